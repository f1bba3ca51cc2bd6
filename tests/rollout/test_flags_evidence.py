"""Flags are judged on evidence: a missing flag file is an error, the running service's own answer
(`effective`) must agree with the plan, and a promote the service never picks up is failed and reverted.

The "service" is a small local HTTP app whose flag values the test controls: it reports them on
GET /flags and only (re)loads the dotenv file on POST /reload, like a process that reads .env at start.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from dotenv import dotenv_values

from bot.announcements.events import RecordingNotifier
from bot.coordination.locks import RedisLocks
from bot.rollout import RolloutRuntime
from bot.rollout.models import phase_key
from bot.rollout.providers import flag_reader
from bot.rollout.providers.dotenv import DotenvProvider
from bot.runs.runner import make_runner
from bot.runs.service import execute_run
from bot.serving.server import start_web_app
from bot.store import Store
from checks.loader import parse_checklist
from checks.result import Status
from checks.runner import Runner
from checks.spec import Checklist


class FlagService:
    """Reports the flags it loaded; loads the file only when told to (a restart)."""

    def __init__(self, env_file: Path) -> None:
        self.env_file = env_file
        self.flags: dict[str, Any] = {}
        self.reloads = 0

    def load(self) -> None:
        self.flags = {k: v for k, v in dotenv_values(self.env_file).items() if k.endswith("_ENABLED")}

    async def get_flags(self, request: web.Request) -> web.Response:
        return web.json_response({"service": "shop", "features": self.flags})

    async def reload(self, request: web.Request) -> web.Response:
        self.reloads += 1
        self.load()
        return web.json_response({"reloaded": True})


@pytest.fixture
async def flag_service(tmp_path: Path) -> AsyncIterator[tuple[FlagService, str]]:
    service = FlagService(tmp_path / "target.env")
    app = web.Application()
    app.router.add_get("/flags", service.get_flags)
    app.router.add_post("/reload", service.reload)
    runner, port = await start_web_app(app)
    yield service, f"http://127.0.0.1:{port}"
    await runner.cleanup()


CHECKLIST = """name: t
target: {{base_url: "{url}"}}
phases:
  - id: p
    checks:
      - {{id: env.flags, kind: flags}}
rollout:
  provider: {{kind: dotenv, path: target.env}}
  effective: {{url: /flags, path: features}}
  phases:
    - {{id: phase-1, flags: {{PC_ENABLED: false}}}}
    - {{id: phase-2, flags: {{PC_ENABLED: true}}}}
"""


async def run_flags(tmp_path: Path, url: str, phase: str = "phase-1", text: str = CHECKLIST) -> Any:
    checklist = parse_checklist(text.format(url=url), str(tmp_path / "t.yml"))
    reader = flag_reader(DotenvProvider(tmp_path / "target.env"))
    report = await Runner(checklist, env={}, rollout_phase=phase, flag_reader=reader).run(checklist.all_checks())
    return report.results[0]


async def test_a_missing_flag_file_is_an_error_never_a_pass(tmp_path: Path) -> None:
    result = await run_flags(tmp_path, "http://127.0.0.1:9", text=CHECKLIST.replace(
        "  effective: {{url: /flags, path: features}}\n", ""))
    assert result.status is Status.ERROR
    assert "flag file" in result.summary and "target.env not found" in result.summary


async def test_an_unset_flag_in_the_settings_is_a_warning_not_a_pass(tmp_path: Path) -> None:
    text = ("name: t\nphases:\n  - id: p\n    checks:\n      - {id: f, kind: flags}\n"
            "rollout:\n  phases:\n    - {id: phase-1, flags: {PC_ENABLED: false}}\n")
    checklist = parse_checklist(text, str(tmp_path / "t.yml"))
    result = (await Runner(checklist, env={}).run(checklist.all_checks())).results[0]
    assert result.status is Status.WARN and "PC_ENABLED" in result.summary


async def test_effective_probe_disagreeing_with_the_file_fails_showing_both_values(
        tmp_path: Path, flag_service: tuple[FlagService, str]) -> None:
    service, url = flag_service
    (tmp_path / "target.env").write_text("PC_ENABLED=false\n")
    service.load()
    result = await run_flags(tmp_path, url)
    assert result.status is Status.PASS and "running service" in result.summary
    assert result.evidence["effective"] == {"PC_ENABLED": "false"}

    (tmp_path / "target.env").write_text("PC_ENABLED=true\n")  # written, never loaded by the service
    result = await run_flags(tmp_path, url, phase="phase-2")
    assert result.status is Status.FAIL
    assert "PC_ENABLED: the running service uses false, the plan says true (flag provider: true)" in result.summary
    assert result.evidence["flags"] == {"PC_ENABLED": "true"}
    assert result.evidence["effective"] == {"PC_ENABLED": "false"}

    service.flags = {}  # the service stops reporting the flag: no evidence, no pass
    result = await run_flags(tmp_path, url, phase="phase-2")
    assert result.status is Status.FAIL and "running service uses unset" in result.summary


async def test_an_unreachable_effective_probe_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "target.env").write_text("PC_ENABLED=false\n")
    from tests.checks.http_fixtures import closed_port_url

    result = await run_flags(tmp_path, closed_port_url())
    assert result.status is Status.ERROR and "effective probe GET /flags failed" in result.summary


ROLLOUT_CHECKLIST = """name: shop
target: {{base_url: "{url}"}}
phases:
  - id: day3
    checks:
      - {{id: env.flags, kind: flags}}
signoffs:
  pre: {{title: Before, roles: [{{id: tech_lead, title: Tech Lead}}]}}
rollout:
  provider: {{kind: dotenv, path: target.env}}
  effective: {{url: /flags, path: features}}
  apply: {{command: {command}, settle_seconds: 0.6, poll_interval_seconds: 0.05}}
  phases:
    - {{id: phase-1, flags: {{PC_ENABLED: false}}, requires_signoff: []}}
    - {{id: phase-2, flags: {{PC_ENABLED: true}}, requires_signoff: []}}
"""


def reload_command(url: str) -> str:
    """A "restart": tells the service to load the file again (a JSON list is a YAML flow sequence)."""
    code = f"import urllib.request; urllib.request.urlopen(urllib.request.Request('{url}/reload', method='POST'))"
    return json.dumps([sys.executable, "-c", code])


@pytest.fixture
def rollout_checklist(tmp_path: Path) -> Callable[[str, str], Checklist]:
    def make(url: str, command: str) -> Checklist:
        from checks.loader import load_checklist

        (tmp_path / "shop.yml").write_text(ROLLOUT_CHECKLIST.format(url=url, command=command))
        return load_checklist(tmp_path / "shop.yml")

    return make


async def promote_to_phase_2(checklist: Checklist, store: Store, locks: RedisLocks) -> tuple[Any, RolloutRuntime]:
    runtime = await RolloutRuntime.create(checklist, store, RecordingNotifier(), locks=locks, prefix=locks.prefix,
                                          env={})
    first = await runtime.service.promote("phase-1", actor="U_ENG")
    assert first.ok, first.reasons
    return await runtime.service.promote("phase-2", actor="U_ENG"), runtime


async def test_a_promote_whose_apply_never_makes_the_service_agree_fails_and_is_reverted(
        tmp_path: Path, flag_service: tuple[FlagService, str], rollout_checklist: Callable[[str, str], Checklist],
        store: Store, locks: RedisLocks) -> None:
    service, url = flag_service
    (tmp_path / "target.env").write_text("PC_ENABLED=false\n")
    service.load()
    checklist = rollout_checklist(url, json.dumps(["true"]))  # "restarts" nothing: the service keeps its old values
    await execute_run(store, checklist, "day3")
    result, runtime = await promote_to_phase_2(checklist, store, locks)
    assert not result.ok
    assert "PC_ENABLED is false in the running service (plan: true)" in result.message
    assert "flags reverted to phase-1" in result.message
    assert (tmp_path / "target.env").read_text() == "PC_ENABLED=false\n"
    assert store.get(phase_key("shop")) == "phase-1"
    await runtime.provider.close()


async def test_a_promote_whose_apply_reloads_the_service_succeeds_and_the_check_confirms_it(
        tmp_path: Path, flag_service: tuple[FlagService, str], rollout_checklist: Callable[[str, str], Checklist],
        store: Store, locks: RedisLocks) -> None:
    service, url = flag_service
    (tmp_path / "target.env").write_text("PC_ENABLED=false\n")
    service.load()
    checklist = rollout_checklist(url, reload_command(url))
    await execute_run(store, checklist, "day3")
    result, runtime = await promote_to_phase_2(checklist, store, locks)
    assert result.ok, result.message
    assert service.flags == {"PC_ENABLED": "true"} and service.reloads >= 1
    assert store.get(phase_key("shop")) == "phase-2"
    outcome = await execute_run(store, checklist, "day3", runner=make_runner(checklist, store))
    flags = next(r for r in outcome.report.results if r.check_id == "env.flags")
    assert flags.status is Status.PASS, flags.summary
    assert flags.evidence["effective"] == {"PC_ENABLED": "true"}
    await runtime.provider.close()
