"""The launchdarkly provider against the stand-in built from LaunchDarkly's API reference
(tests/rollout/launchdarkly_standin.py; the real service cannot be reached from here): semantic patch
instructions for gradual phases, rollback restoring the default rule exactly, an environment that requires
approvals, rate limits, and the errors a person must be able to act on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer
from bot.rollout.providers import ProviderError, build_provider
from bot.rollout.providers.launchdarkly import SEMANTIC_PATCH, LaunchDarklyConfig, LaunchDarklyProvider
from bot.rollout.service import RolloutService
from bot.runs.service import execute_run
from bot.store import Store
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.rollout.conftest import checklist_data
from tests.rollout.launchdarkly_standin import LaunchDarklyStandIn
from tests.rollout.test_promote import sign

TOKEN = "api-0b5c7a1e-golive-standin-token"


@pytest.fixture
async def ld() -> AsyncIterator[LaunchDarklyStandIn]:
    server = await LaunchDarklyStandIn(token=TOKEN).start()
    yield server
    await server.stop()


def write(tmp_path: Path, base_url: str, ld_url: str) -> Checklist:
    data = checklist_data(base_url)
    data["rollout"]["provider"] = {"kind": "launchdarkly", "url": ld_url, "project": "shop",
                                   "environment": "production"}
    data["rollout"]["phases"] = [
        {"id": "phase-1", "flags": {"checkout": {"on": True, "rollout": 10}, "search": False},
         "requires_checks": ["health.ready"]},
        {"id": "phase-2", "flags": {"checkout": True, "search": {"on": True, "rollout": 50}},
         "requires_checks": ["health.ready"]},
    ]
    path = tmp_path / "shop.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_checklist(path)


class Sleeps:
    """An injected sleep: records the waits instead of spending them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def provider(url: str, token: str = TOKEN, sleep: Any = None, **config: Any) -> LaunchDarklyProvider:
    return LaunchDarklyProvider(LaunchDarklyConfig(project="shop", environment="production", url=url, **config),
                                token, sleep=sleep)


async def ready_service(tmp_path: Path, target: DemoServer, ld: LaunchDarklyStandIn, store: Store,
                        locks: RedisLocks, **kwargs: Any) -> RolloutService:
    checklist = write(tmp_path, target.base_url, ld.url)
    await execute_run(store, checklist, "health.ready")
    sign(store, checklist, "tech_lead", "devops_lead")
    return RolloutService(store, checklist, provider(ld.url, **kwargs), locks=locks)


async def test_gradual_phases_use_semantic_patch_and_rollback_restores_the_default_rule(
        ld: LaunchDarklyStandIn, store: Store, locks: RedisLocks, target: DemoServer, tmp_path: Path) -> None:
    checkout, search = ld.add_flag("checkout"), ld.add_flag("search")
    # someone's own rollout on search: 5 % bucketed by organization, targeting off
    search["environments"]["production"]["fallthrough"] = {"rollout": {
        "variations": [{"variation": 0, "weight": 5000}, {"variation": 1, "weight": 95000}],
        "bucketBy": "key", "contextKind": "organization"}}
    untouched = {"checkout": ld.env("checkout"), "search": ld.env("search")}
    service = await ready_service(tmp_path, target, ld, store, locks)

    early = await service.promote("phase-2", actor="U_ENG")  # the gate refuses, and shows the plan it holds back
    assert not early.ok and early.flags == {"checkout": "true", "search": "50%"}
    assert not [r for r in ld.requests if r["method"] == "PATCH"]

    first = await service.promote("phase-1", actor="U_ENG")
    assert first.ok, first.reasons
    assert first.flags == {"checkout": "10%", "search": "false"}
    on_id, off_id = (v["_id"] for v in checkout["variations"])
    patches = [r for r in ld.requests if r["method"] == "PATCH"]
    assert {r["content_type"] for r in patches} == {SEMANTIC_PATCH}
    assert patches[0]["body"]["environmentKey"] == "production"
    assert patches[0]["body"]["instructions"] == [
        {"kind": "turnFlagOn"},
        {"kind": "updateFallthroughVariationOrRollout", "rolloutWeights": {on_id: 10000, off_id: 90000}}]
    assert patches[1]["body"]["instructions"] == [{"kind": "turnFlagOff"}]

    second = await service.promote("phase-2", actor="U_ENG")
    assert second.ok and second.flags == {"checkout": "true", "search": "50%"}
    assert ld.env("checkout")["fallthrough"] == {"variation": 0} and ld.env("checkout")["on"]

    assert (await service.rollback(actor="U_ONCALL", reason="p95")).flags == {"checkout": "10%", "search": "false"}
    none = await service.rollback(actor="U_ONCALL", reason="abort")
    assert none.ok and none.phase is None
    after = {"checkout": ld.env("checkout"), "search": ld.env("search")}
    for name in after:  # the targeting switch and the default rule exactly, bucketing included
        assert (after[name]["on"], after[name]["fallthrough"]) == \
            (untouched[name]["on"], untouched[name]["fallthrough"]), name
    await service.provider.close()


async def test_an_environment_requiring_approval_fails_the_promotion_and_changes_nothing(
        ld: LaunchDarklyStandIn, store: Store, locks: RedisLocks, target: DemoServer, tmp_path: Path) -> None:
    ld.add_flag("checkout"), ld.add_flag("search")
    ld.approval_required.add("production")
    before = {"checkout": ld.env("checkout"), "search": ld.env("search")}
    service = await ready_service(tmp_path, target, ld, store, locks)
    result = await service.promote("phase-1", actor="U_ENG")
    assert not result.ok and result.failed
    assert "changes to checkout in production require approval (405" in result.reasons[0]
    assert "approval request" in result.reasons[0]
    assert result.reasons[-1] == "nothing was changed"
    assert {"checkout": ld.env("checkout"), "search": ld.env("search")} == before
    assert await service.current_phase() is None
    await service.provider.close()


async def test_a_rate_limit_is_waited_out_until_x_ratelimit_reset(
        ld: LaunchDarklyStandIn, store: Store, locks: RedisLocks, target: DemoServer, tmp_path: Path) -> None:
    ld.add_flag("checkout"), ld.add_flag("search")
    sleeps = Sleeps()
    service = await ready_service(tmp_path, target, ld, store, locks, sleep=sleeps)
    ld.rate_limit_next, ld.rate_limit_reset_ms = 2, 1500
    result = await service.promote("phase-1", actor="U_ENG")
    assert result.ok, result.reasons
    assert len(sleeps.waits) == 2 and all(0 < w <= 1.5 for w in sleeps.waits)  # the header's time, not a guess
    assert ld.env("checkout")["on"]
    await service.provider.close()


async def test_a_rate_limit_resetting_too_late_is_an_error_naming_the_wait(ld: LaunchDarklyStandIn) -> None:
    ld.add_flag("checkout")
    sleeps = Sleeps()
    slow = provider(ld.url, sleep=sleeps, max_wait_seconds=5)
    ld.rate_limit_next, ld.rate_limit_reset_ms = 1, 120_000
    with pytest.raises(ProviderError) as refused:
        await slow.read(["checkout"])
    assert "rate limited (429 You've exceeded the API rate limit" in str(refused.value)
    assert "the limit resets in 12" in str(refused.value) and sleeps.waits == []
    await slow.close()


async def test_errors_are_one_actionable_line_and_the_token_stays_secret(ld: LaunchDarklyStandIn) -> None:
    ld.add_flag("checkout")
    bad = provider(ld.url, token="api-wrong-token-4711")
    with pytest.raises(ProviderError) as refused:
        await bad.read(["checkout"])
    assert "refused the API token (401 Invalid access token)" in str(refused.value)
    assert "LAUNCHDARKLY_API_TOKEN" in str(refused.value) and "wrong-token" not in str(refused.value)
    await bad.close()
    good = provider(ld.url)
    with pytest.raises(ProviderError) as missing:
        await good.read(["nope"])
    assert "flag nope not found (404)" in str(missing.value)
    ld.flags["checkout"]["variations"][0]["value"] = "green"
    with pytest.raises(ProviderError) as multi:
        await good.read(["checkout"])
    assert "is not a boolean flag" in str(multi.value)
    await good.close()


def test_configuration_is_checked_at_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LAUNCHDARKLY_API_TOKEN", raising=False)
    monkeypatch.delenv("GOLIVE_LAUNCHDARKLY_API_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env with a token here
    with pytest.raises(ProviderError) as no_env:
        build_provider({"kind": "launchdarkly", "project": "shop"}, workdir=tmp_path, env={})
    assert "rollout.provider (launchdarkly): environment Field required" in str(no_env.value)
    with pytest.raises(ProviderError) as no_token:
        build_provider({"kind": "launchdarkly", "project": "shop", "environment": "production"}, workdir=tmp_path,
                       env={})
    assert "LAUNCHDARKLY_API_TOKEN_FILE" in str(no_token.value)
    secret = tmp_path / "ld_token"
    secret.write_text(TOKEN + "\n")
    monkeypatch.setenv("LAUNCHDARKLY_API_TOKEN_FILE", str(secret))
    built = build_provider({"kind": "launchdarkly", "project": "shop", "environment": "production"},
                           workdir=tmp_path, env={})
    assert built.description.startswith("LaunchDarkly https://app.launchdarkly.com (project shop")
    from checks.masking import mask

    assert TOKEN not in mask(f"token={TOKEN}")  # registered as a secret when read
