"""Promote / rollback against real PostgreSQL (store), Redis (lock) and the demo target (checks):
the gate refuses with every reason, flips the dotenv flags when it holds, rollback restores them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.announcements.events import Announcement, ChannelNotice, RecordingNotifier
from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer, serve_target
from bot.rollout import RolloutRuntime
from bot.rollout.models import DEPLOYMENT_KEY, phase_key
from bot.runs.service import execute_run
from bot.signoff.service import SignoffService
from bot.store import Store, open_store
from checks.spec import Checklist
from tests.rollout.conftest import ENV_FILE


async def make_runtime(checklist: Checklist, store: Store, locks: RedisLocks,
                       notifier: RecordingNotifier) -> RolloutRuntime:
    return await RolloutRuntime.create(checklist, store, notifier, locks=locks, prefix=locks.prefix, env={})


def sign(store: Store, checklist: Checklist, *roles: str, decision: str = "approve") -> None:
    service = SignoffService(store, checklist)
    request = service.open_request("pre", requested_by="U_RELEASE")
    for role in roles:
        service.record(request.id, role, decision, user_id=f"U_{role.upper()}", reason="not yet")  # type: ignore[arg-type]


def announced(notifier: RecordingNotifier) -> list[tuple[str, str]]:
    return [(e.kind, e.phase) for e in notifier.events if isinstance(e, Announcement)]


async def test_promote_refuses_with_reasons_then_promotes_and_rollback_restores_the_file(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer,
        tmp_path: Path) -> None:
    checklist = write_checklist(target.base_url)
    env_file = tmp_path / "target.env"
    original = env_file.read_bytes()
    notifier = RecordingNotifier()
    runtime = await make_runtime(checklist, store, locks, notifier)
    service = runtime.service

    target.set(mode="degraded")  # readiness 503: the critical check goes red
    await execute_run(store, checklist, "health.ready")
    refused = await service.promote("phase-2", actor="U_ENG")
    assert not refused.ok and "promote phase-1 before phase-2" in refused.reasons[0]
    refused = await service.promote("phase-1", actor="U_ENG")
    assert not refused.ok
    assert any(r.startswith("verdict NO-GO: health.ready: HTTP 503") for r in refused.reasons), refused.reasons
    assert "sign-off missing: Tech Lead (pre)" in refused.reasons
    assert "sign-off missing: DevOps Lead (pre)" in refused.reasons
    assert env_file.read_bytes() == original and await service.current_phase() is None

    target.set(mode="healthy")  # the check is green now; only the sign-offs are missing
    await execute_run(store, checklist, "health.ready")
    sign(store, checklist, "tech_lead")
    refused = await service.promote("phase-1", actor="U_ENG")
    assert refused.reasons == ["sign-off missing: DevOps Lead (pre)"]

    sign(store, checklist, "tech_lead", "devops_lead")
    promoted = await service.promote("phase-1", actor="U_ENG")
    assert promoted.ok, promoted.reasons
    assert env_file.read_bytes() == original  # phase-1 plan equals the file already: not one byte moved
    promoted = await service.promote("phase-2", actor="U_ENG")
    assert promoted.ok and promoted.flags == {"APP_PC_ENABLED": "true", "APP_D365_ENABLED": "false"}
    after = env_file.read_bytes()
    assert after == original.replace(b'APP_PC_ENABLED="false"', b'APP_PC_ENABLED="true"')
    assert store.get(phase_key("shop")) == "phase-2"

    rolled = await service.rollback(actor="U_ONCALL", reason="p95 too high")
    assert rolled.ok and rolled.phase == "phase-1" and rolled.previous_phase == "phase-2"
    assert env_file.read_bytes() == original  # byte for byte, comments and quoting included
    assert store.get(phase_key("shop")) == "phase-1"

    assert announced(notifier) == [("refused", "phase-2"), ("refused", "phase-1"), ("refused", "phase-1"),
                                   ("promoted", "phase-1"), ("promoted", "phase-2"), ("rolled_back", "phase-1")]
    *_, rollback_event, witnessed = notifier.events  # the announcement, then the audit head in its thread
    assert isinstance(rollback_event, Announcement) and rollback_event.subject == "rollout:shop:phase-2"
    assert isinstance(witnessed, ChannelNotice) and witnessed.thread_subject == "rollout:shop:phase-2"
    actions = [row["action"] for row in store.audit_log(limit=50) if row["action"].startswith("rollout.")]
    assert sorted(actions) == sorted(["rollout.refused"] * 3 + ["rollout.promoted"] * 2 + ["rollout.rolled_back"])
    refusal = store.audit_log(action="rollout.refused", limit=1)[0]
    assert refusal["actor"] == "U_ENG" and refusal["detail"]["reasons"] == ["sign-off missing: DevOps Lead (pre)"]
    record = store.get(DEPLOYMENT_KEY.format(checklist="shop"))
    assert record["current_phase"] == "phase-1" and record["rollback_count"] == 1
    assert record["promotions"] == 2 and record["success_rate"] == 0.5 and record["refusals"] == 3
    assert record["started_at"] and record["duration_seconds"] >= 0
    await runtime.close()


async def test_stale_results_rejected_signoffs_and_rollback_to_nothing(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer,
        tmp_path: Path) -> None:
    checklist = write_checklist(target.base_url)
    notifier = RecordingNotifier()
    runtime = await make_runtime(checklist, store, locks, notifier)
    await execute_run(store, checklist, "health.ready")
    sign(store, checklist, "tech_lead", "devops_lead")
    runtime.service.max_check_age = timedelta(microseconds=1)
    stale = await runtime.service.promote("phase-1", actor="U")
    assert len(stale.reasons) == 1 and "older than" in stale.reasons[0] and "run it again" in stale.reasons[0]

    sign(store, checklist, "tech_lead", decision="reject")
    runtime.service.max_check_age = timedelta(hours=1)
    rejected = await runtime.service.promote("phase-1", actor="U")
    assert "verdict NO-GO: sign-off pre:tech_lead rejected by U_TECH_LEAD: not yet" in rejected.reasons

    sign(store, checklist, "tech_lead", "devops_lead")
    assert (await runtime.service.promote("phase-1", actor="U")).ok
    (tmp_path / "target.env").write_text("APP_PC_ENABLED=true\nAPP_D365_ENABLED=true\n")  # drifted by hand
    rolled = await runtime.service.rollback(actor="U")
    assert rolled.ok and rolled.phase is None
    assert rolled.flags == {"APP_PC_ENABLED": "false", "APP_D365_ENABLED": "false", "APP_ENRICH_ENABLED": "false"}
    nothing = await runtime.service.rollback(actor="U")
    assert not nothing.ok and nothing.reasons == ["nothing to roll back: no rollout phase is active"]
    await runtime.close()


async def test_alert_buttons_rollback_keep_going_and_stale_clicks(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer) -> None:
    checklist = write_checklist(target.base_url)
    notifier = RecordingNotifier()
    runtime = await make_runtime(checklist, store, locks, notifier)
    service = runtime.service
    await execute_run(store, checklist, "health.ready")
    sign(store, checklist, "tech_lead", "devops_lead")
    assert (await service.promote("phase-1", actor="U")).ok
    assert (await service.promote("phase-2", actor="U")).ok

    await service.pause(phase="phase-2", reason="P0: readiness 503", incident_id="inc-1")
    blocked = await service.promote("phase-3", actor="U")
    assert any("paused" in r for r in blocked.reasons)
    kept = await service.handle_rollout_action("keep_going", "phase-2", "U_LEAD")
    assert kept.ok and store.get("rollout:shop:paused") is None
    assert await service.action_hook("keep_going", "phase-2", "U_LEAD") == \
        "nothing to resume: phase-2 is not paused, promotions are not held"

    stale = await service.handle_rollout_action("rollback", "phase-1", "U_LEAD")
    assert not stale.ok and "no longer the current phase" in stale.message
    rolled = await service.handle_rollout_action("rollback", "phase-2", "U_LEAD")
    assert rolled.ok and rolled.phase == "phase-1"
    twice = await service.action_hook("rollback", "phase-2", "U_OTHER")  # a second click on the same alert
    assert "no longer the current phase" in twice
    kinds = [k for k, _ in announced(notifier)]
    assert kinds.count("paused") == 1 and kinds.count("resumed") == 1 and kinds.count("rolled_back") == 1
    assert store.audit_log(action="rollout.action_stale", limit=5)[0]["actor"] == "U_OTHER"
    with pytest.raises(ValueError):
        await service.handle_rollout_action("explode", "phase-1", "U")
    await runtime.close()


def test_cli_promote_and_rollback_exit_codes(write_checklist: Callable[..., Checklist], isolated_env: None,
                                             tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main
    from tests.operators import write_operators

    monkeypatch.setenv("GOLIVE_OPERATORS_FILE", str(write_operators(tmp_path, "U0TECH")))

    with serve_target(rate_limit=0) as target:
        checklist = write_checklist(target.base_url)
        path = checklist.source_path
        assert main(["promote", "phase-9", "--checklist", path]) == 2
        assert "unknown rollout phase 'phase-9'" in capsys.readouterr().err
        assert main(["promote", "phase-1", "--checklist", path, "--by", "U_CLI"]) == 1  # not granted to this OS user
        assert "--by U_CLI is not granted" in capsys.readouterr().out
        assert main(["promote", "phase-1", "--checklist", path, "--by", "U0TECH"]) == 1
        out = capsys.readouterr().out
        assert "refused" in out and "verdict NO-GO: health.ready: has not run" in out
        assert main(["run", "health.ready", "--checklist", path]) == 0
        store = open_store(sqlite_path=tmp_path / "state" / "golive.db")
        sign(store, checklist, "tech_lead", "devops_lead")
        capsys.readouterr()
        assert main(["promote", "phase-1", "--checklist", path, "--by", "U0TECH"]) == 0
        assert main(["promote", "phase-2", "--checklist", path, "--json"]) == 0
        assert '"APP_PC_ENABLED": "true"' in capsys.readouterr().out
        assert (tmp_path / "target.env").read_bytes() == \
            ENV_FILE.encode().replace(b'APP_PC_ENABLED="false"', b'APP_PC_ENABLED="true"')
        assert main(["rollback", "--checklist", path, "--reason", "testing"]) == 0
        assert "rolled back phase-2 → phase-1" in capsys.readouterr().out
        assert (tmp_path / "target.env").read_bytes() == ENV_FILE.encode()
        assert store.audit_log(action="rollout.rolled_back", limit=1)[0]["detail"]["reason"] == "testing"
        store.close()
        with pytest.raises(SystemExit) as usage:
            main(["promote", "--checklist", path])  # no phase: bad usage
        assert usage.value.code == 2
