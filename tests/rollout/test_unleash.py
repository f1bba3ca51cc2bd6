"""The unleash provider against a real Unleash server (tests/rollout/unleash_support.py): gradual phases
through its flexible-rollout strategy, rollback restoring every strategy exactly, an edit by someone else
refusing the next promotion with the diff, a refused token (one line, exit 3, nothing changed), and
Unleash going down mid-promotion (never reported as done)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.announcements.events import Announcement, RecordingNotifier
from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer, serve_target
from bot.rollout.models import DEPLOYMENT_KEY
from bot.rollout.providers.unleash import UnleashConfig, UnleashProvider
from bot.rollout.service import RolloutService
from bot.runs.service import execute_run
from bot.runs.status import build_status, deployment_facts
from bot.store import Store, open_store
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.rollout.conftest import checklist_data
from tests.rollout.test_promote import sign
from tests.rollout.unleash_support import Relay, UnleashAdmin, UnleashServer

pytestmark = pytest.mark.xdist_group("unleash")

BETA = {"name": "flexibleRollout", "constraints": [{"contextName": "userId", "operator": "IN",
                                                    "values": ["beta-1", "beta-2"]}],
        "parameters": {"rollout": "100", "stickiness": "default", "groupId": "beta"}}


@pytest.fixture
def admin(unleash: UnleashServer) -> Iterator[UnleashAdmin]:
    client = UnleashAdmin(unleash)
    yield client
    client.close()


def write(tmp_path: Path, base_url: str, url: str, a: str, b: str) -> Checklist:
    """phase-1: A on for 25 %, B off; phase-2: A on for everyone, B on for 50 % (its beta strategy kept)."""
    data = checklist_data(base_url)
    data["rollout"]["provider"] = {"kind": "unleash", "url": url, "project": "default", "environment": "production"}
    data["rollout"]["phases"] = [
        {"id": "phase-1", "flags": {a: {"on": True, "rollout": 25}, b: False}, "requires_checks": ["health.ready"]},
        {"id": "phase-2", "flags": {a: True, b: {"on": True, "rollout": 50}}, "requires_checks": ["health.ready"]},
    ]
    path = tmp_path / "shop.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False).replace("'on':", "on:"))  # the way people write it
    return load_checklist(path)


def provider(url: str, token: str) -> UnleashProvider:
    return UnleashProvider(UnleashConfig(url=url, environment="production"), token)


async def ready(store: Store, checklist: Checklist) -> None:
    await execute_run(store, checklist, "health.ready")
    sign(store, checklist, "tech_lead", "devops_lead")


def rollouts(admin: UnleashAdmin, name: str) -> list[str]:
    return [s["parameters"].get("rollout", "") for s in admin.state(name)["strategies"] if not s["constraints"]]


async def test_gradual_phases_promote_and_rollback_restores_every_strategy(
        unleash: UnleashServer, admin: UnleashAdmin, store: Store, locks: RedisLocks, target: DemoServer,
        tmp_path: Path) -> None:
    a, b = admin.flag("checkout"), admin.flag("search")
    admin.add_strategy(b, BETA)  # someone's beta group on B, which B's 50 % must not remove
    untouched = {a: admin.state(a), b: admin.state(b)}
    checklist = write(tmp_path, target.base_url, unleash.url, a, b)
    notifier = RecordingNotifier()
    service = RolloutService(store, checklist, provider(unleash.url, unleash.token), notifier=notifier, locks=locks)
    await ready(store, checklist)

    first = await service.promote("phase-1", actor="U_ENG")
    assert first.ok, first.reasons
    assert first.flags == {a: "25%", b: "false"}
    assert admin.state(a)["enabled"] and rollouts(admin, a) == ["25"]
    assert admin.state(b) == untouched[b]  # off already: not one strategy moved

    second = await service.promote("phase-2", actor="U_ENG")
    assert second.ok and second.flags == {a: "true", b: "50%"}
    assert rollouts(admin, a) == ["100"] and rollouts(admin, b) == ["50"]
    assert BETA["constraints"] == next(s["constraints"] for s in admin.state(b)["strategies"] if s["constraints"])
    record = store.get(DEPLOYMENT_KEY.format(checklist="shop"))
    assert record["flags"] == {a: "true", b: "50%"}
    facts = dict(deployment_facts(build_status(store, checklist)))
    assert facts["Flags"] == f"{a}=true, {b}=on for 50%"
    promoted = [e for e in notifier.events if isinstance(e, Announcement) and e.kind == "promoted"]
    assert [e.flags for e in promoted] == [{a: "25%", b: "false"}, {a: "true", b: "50%"}]

    back = await service.rollback(actor="U_ONCALL", reason="p95")
    assert back.ok and back.phase == "phase-1" and back.flags == {a: "25%", b: "false"}
    assert rollouts(admin, a) == ["25"] and admin.state(b) == untouched[b]
    to_nothing = await service.rollback(actor="U_ONCALL", reason="abort")
    assert to_nothing.ok and to_nothing.phase is None
    assert {a: admin.state(a), b: admin.state(b)} == untouched  # enabled flags and strategies, exactly
    await service.provider.close()


async def test_an_edit_by_someone_else_refuses_the_next_promotion_with_the_diff(
        unleash: UnleashServer, admin: UnleashAdmin, store: Store, locks: RedisLocks, target: DemoServer,
        tmp_path: Path) -> None:
    a, b = admin.flag("checkout"), admin.flag("search")
    checklist = write(tmp_path, target.base_url, unleash.url, a, b)
    service = RolloutService(store, checklist, provider(unleash.url, unleash.token), locks=locks)
    await ready(store, checklist)
    assert (await service.promote("phase-1", actor="U_ENG")).ok

    mine = next(s for s in admin.strategies(a) if not s["constraints"])
    admin.update_strategy(a, mine["id"], {**mine, "parameters": {**mine["parameters"], "rollout": "40"}})
    edited = {a: admin.state(a), b: admin.state(b)}
    refused = await service.promote("phase-2", actor="U_ENG")
    assert not refused.ok and not refused.failed  # refused (exit 1), not a provider failure
    assert refused.reasons[0] == f"{a} was changed outside golive since phase-1: golive left it 25%, it is now 40%"
    assert "review it in Unleash" in refused.reasons[1]
    assert {a: admin.state(a), b: admin.state(b)} == edited and await service.current_phase() == "phase-1"
    await service.provider.close()


async def test_unleash_going_down_mid_promotion_is_never_reported_done(
        unleash: UnleashServer, admin: UnleashAdmin, store: Store, locks: RedisLocks, target: DemoServer,
        tmp_path: Path) -> None:
    a, b = admin.flag("checkout"), admin.flag("search")
    port = int(unleash.url.rsplit(":", 1)[1])
    relay = await Relay(port).start()
    checklist = write(tmp_path, target.base_url, relay.url, a, b)
    service = RolloutService(store, checklist, provider(relay.url, unleash.token), locks=locks)
    await ready(store, checklist)
    assert (await service.promote("phase-1", actor="U_ENG")).ok
    before = {a: admin.state(a), b: admin.state(b)}

    relay.down_after(1)  # phase-2's first write goes through, then Unleash is gone
    result = await service.promote("phase-2", actor="U_ENG")
    assert not result.ok and result.failed
    assert "Unleash" in result.reasons[0] and "unreachable" in result.reasons[0]
    assert result.reasons[-1].startswith("the flags' state is UNKNOWN")
    assert await service.current_phase() == "phase-1"  # golive does not claim phase-2
    last = store.db.fetchone("SELECT * FROM rollout_events WHERE checklist = 'shop' ORDER BY seq DESC LIMIT 1")
    assert last["action"] == "promote" and last["phase"] == "phase-2" and not last["ok"]
    assert {a: admin.state(a), b: admin.state(b)} != before  # it really was half-way when Unleash went

    await relay.come_back()  # Unleash answers again: the next promotion first puts phase-1's state back
    again = await service.promote("phase-2", actor="U_ENG")
    assert again.ok, again.reasons
    assert (await service.rollback(actor="U_ONCALL", reason="p95")).ok
    assert {a: admin.state(a), b: admin.state(b)} == before
    await service.provider.close()
    await relay.stop()


async def test_a_write_lost_half_way_is_rolled_back_to_the_exact_state_before(
        unleash: UnleashServer, admin: UnleashAdmin, store: Store, locks: RedisLocks, target: DemoServer,
        tmp_path: Path) -> None:
    a, b = admin.flag("checkout"), admin.flag("search")
    admin.add_strategy(b, BETA)
    port = int(unleash.url.rsplit(":", 1)[1])
    relay = await Relay(port).start()
    checklist = write(tmp_path, target.base_url, relay.url, a, b)
    service = RolloutService(store, checklist, provider(relay.url, unleash.token), locks=locks)
    await ready(store, checklist)
    assert (await service.promote("phase-1", actor="U_ENG")).ok
    before = {a: admin.state(a), b: admin.state(b)}

    relay.blip_after(2)  # A's writes go through, B's first write is lost; Unleash answers again at once
    result = await service.promote("phase-2", actor="U_ENG")
    assert not result.ok and result.failed and "unreachable" in result.reasons[0]
    assert result.reasons[-1] == "flags restored exactly as they were before the promotion (strategies included)"
    assert {a: admin.state(a), b: admin.state(b)} == before and await service.current_phase() == "phase-1"
    await service.provider.close()
    await relay.stop()


def test_invalid_token_is_one_line_exit_3_and_changes_nothing(
        unleash: UnleashServer, admin: UnleashAdmin, isolated_env: None, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main
    from tests.operators import write_operators

    monkeypatch.setenv("GOLIVE_OPERATORS_FILE", str(write_operators(tmp_path, "U0TECH")))
    monkeypatch.setenv("UNLEASH_API_TOKEN", "*:*.not-the-token-unleash-knows")
    a, b = admin.flag("checkout"), admin.flag("search")
    before = {a: admin.state(a), b: admin.state(b)}
    with serve_target(rate_limit=0) as demo:
        checklist = write(tmp_path, demo.base_url, unleash.url, a, b)
        assert main(["run", "health.ready", "--checklist", checklist.source_path]) == 0
        store = open_store(sqlite_path=tmp_path / "state" / "golive.db")
        sign(store, checklist, "tech_lead", "devops_lead")
        capsys.readouterr()
        assert main(["promote", "phase-1", "--checklist", checklist.source_path]) == 3
        out = capsys.readouterr().out.strip()
        assert out.count("\n") == 0, out
        assert "refused the API token (401" in out and "UNLEASH_API_TOKEN" in out and "nothing was changed" in out
        assert "not-the-token" not in out
        store.close()
    assert {a: admin.state(a), b: admin.state(b)} == before


def test_a_percentage_on_a_provider_without_them_is_refused_at_load(
        isolated_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main
    from tests.operators import write_operators

    monkeypatch.setenv("GOLIVE_OPERATORS_FILE", str(write_operators(tmp_path, "U0TECH")))
    data: dict[str, Any] = checklist_data("http://127.0.0.1:9")
    data["rollout"]["phases"][1]["flags"]["APP_PC_ENABLED"] = {"on": True, "rollout": 25}
    path = tmp_path / "shop.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False).replace("'on':", "on:"))
    (tmp_path / "target.env").write_text("APP_PC_ENABLED=false\n")
    assert main(["promote", "phase-1", "--checklist", str(path)]) == 2
    err = capsys.readouterr().err
    assert "rollout.phases[phase-2].flags.APP_PC_ENABLED: rollout: 25 needs a provider that serves a percentage" in err
    assert "use on: true" in err

    data["rollout"]["phases"][1]["flags"]["APP_PC_ENABLED"] = {"on": False, "rollout": 25}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["promote", "phase-1", "--checklist", str(path)]) == 2
    assert "rollout: 25 needs on: true" in capsys.readouterr().err
