"""Issue 19's smaller gaps, each reproduced from the report first: roles that grant everyone, a freeze
lifted by someone else, unbounded numbers, a checklist path that is a FIFO, and "none was not paused"."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.chatops.actor import Actor
from bot.policy.freeze import FreezeRefused, FreezeService
from bot.policy.waivers import WaiverError, parse_duration
from bot.store import open_store
from checks.loader import ChecklistError, load_checklist
from tests.cli.inprocess import golive_in_process
from tests.operators import write_operators


def write_checklist(tmp_path: Path, members: list[str] | None = None) -> str:
    data = {
        "name": "gaps", "target": {"base_url": "http://127.0.0.1:9"},
        "phases": [{"id": "p", "checks": [{"id": "core.up", "kind": "env", "criticality": "high",
                                           "params": {"var": "X"}}]}],
        "signoffs": {"pre": {"roles": [{"id": "tech_lead", "title": "Tech Lead", "members": members or ["U_A"]},
                                       {"id": "devops_lead", "title": "DevOps", "members": ["U_B", "U_C"]}]}},
        "freeze": {"override_roles": ["tech_lead"]},
        "rollout": {"provider": {"kind": "dotenv", "path": "flags.env"},
                    "phases": [{"id": "phase-1", "flags": {"A": True}, "requires_signoff": []}]},
    }
    (tmp_path / "flags.env").write_text("A=false\n")
    path = tmp_path / "gaps.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


@pytest.mark.parametrize("spec", ["tech_lead=everyone", "tech_lead=U1,here", "devops_lead=Channel", "tech_lead=ALL"])
def test_roles_that_grant_everyone_are_refused_at_start(tmp_path: Path, spec: str) -> None:
    path = write_checklist(tmp_path)
    for argv in (["status"], ["serve"]):
        result = golive_in_process(*argv, "--checklist", path, env={"GOLIVE_ROLES": spec}, cwd=tmp_path)
        assert result.returncode == 2 and "grants" in result.stderr and "everyone" in result.stderr, result.stderr


def test_a_checklist_role_that_grants_everyone_is_refused_too(tmp_path: Path) -> None:
    path = write_checklist(tmp_path, members=["everyone"])
    result = golive_in_process("status", "--checklist", path, cwd=tmp_path)
    assert result.returncode == 2 and "grants everyone" in result.stderr


async def test_a_freeze_is_lifted_only_by_its_declarer_or_an_override_role(tmp_path: Path) -> None:
    store = open_store(None, sqlite_path=tmp_path / "golive.db")
    service = FreezeService(store, load_checklist(write_checklist(tmp_path)))
    service.declare(datetime.now(UTC) + timedelta(hours=2), "quarter close", by="U_B")
    with pytest.raises(FreezeRefused, match="declared by U_B: only they, or a member of the override roles"):
        await service.lift(Actor("U_C", "slack"))  # a member of a role, but not the declarer nor an override role
    assert service.active() and store.audit_log(action="freeze.lift_refused", limit=1)[0]["actor"] == "U_C"
    assert await service.lift(Actor("U_B", "slack"))  # the declarer
    service.declare(datetime.now(UTC) + timedelta(hours=2), "again", by="U_B")
    assert await service.lift(Actor("U_A", "cli"))  # an override role (tech_lead)
    assert not service.active()
    store.close()


def test_the_cli_lift_follows_the_same_rule(tmp_path: Path) -> None:
    path = write_checklist(tmp_path)
    as_b = {"GOLIVE_OPERATORS_FILE": str(write_operators(tmp_path / "b" if (tmp_path / "b").mkdir() is None
                                                         else tmp_path, "U_B"))}
    as_c = {"GOLIVE_OPERATORS_FILE": str(write_operators(tmp_path / "c" if (tmp_path / "c").mkdir() is None
                                                         else tmp_path, "U_C"))}
    assert golive_in_process("freeze", "--until", "2h", "--reason", "close", "--checklist", path, env=as_b,
                             cwd=tmp_path).returncode == 0
    refused = golive_in_process("freeze", "--lift", "--checklist", path, env=as_c, cwd=tmp_path)
    assert refused.returncode == 1 and "declared by U_B" in refused.stdout
    assert golive_in_process("freeze", "--lift", "--checklist", path, env=as_b, cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("argv, message", [
    (["waive", "core.up", "99999999999h", "x"], "at most 30 days"),
    (["waive", "core.up", "99999999999999999999d", "x"], "not understood"),
    (["watch", "--interval", "nan"], "--interval"),
    (["watch", "--interval", "inf"], "--interval"),
    (["watch", "--interval", "1e308"], "--interval"),
    (["watch", "--lease-seconds", "-1"], "--lease-seconds"),
    (["watch", "--consecutive", "0"], "--consecutive"),
    (["watch", "--consecutive", "99999999999999999999"], "--consecutive"),
    (["watch", "--escalate-after", "1e400"], "--escalate-after"),
    (["history", "--limit", "-5"], "--limit"),
    (["history", "--limit", "999999999999"], "--limit"),
    (["serve", "--port", "70000"], "--port"),
    (["freeze", "--until", "99999999999d", "--reason", "x"], "--until"),
])
def test_every_numeric_option_is_bounded_with_a_one_line_error(tmp_path: Path, argv: list[str], message: str) -> None:
    path = write_checklist(tmp_path)
    env = {"GOLIVE_OPERATORS_FILE": str(write_operators(tmp_path, "U_A"))}
    result = golive_in_process(*argv, "--checklist", path, env=env, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "OverflowError" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("golive:")]
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_a_huge_waiver_duration_is_refused_without_overflow() -> None:
    with pytest.raises(WaiverError, match="at most 30 days"):
        parse_duration("99999999999d")
    with pytest.raises(WaiverError, match="not understood"):
        parse_duration("1" * 400 + "h")


def test_a_checklist_path_that_is_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "checklist.yml"
    os.mkfifo(fifo)
    done: list[BaseException] = []

    def load() -> None:
        try:
            load_checklist(fifo)
        except BaseException as exc:
            done.append(exc)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(timeout=30)  # generous: the busy machine; a hang fails here instead of blocking the suite
    if reader.is_alive():  # unblock the reader so the thread ends
        with open(fifo, "w"):
            pass
        pytest.fail("loading a FIFO blocked")
    assert isinstance(done[0], ChecklistError) and "not a regular file" in str(done[0])
    result = golive_in_process("checks", "--checklist", str(fifo), "--offline", cwd=tmp_path)
    assert result.returncode == 2 and "not a regular file" in result.stderr


def test_resume_with_nothing_paused_says_so(tmp_path: Path) -> None:
    path = write_checklist(tmp_path)
    env = {"GOLIVE_OPERATORS_FILE": str(write_operators(tmp_path, "U_A"))}
    result = golive_in_process("resume", "--checklist", path, env=env, cwd=tmp_path)
    assert result.returncode == 0 and "none was not paused" not in result.stdout
    assert "nothing to resume: no rollout phase is active" in result.stdout


def test_a_shared_store_without_an_audit_key_is_refused_not_generated(tmp_path: Path, pg_schema: str) -> None:
    """Replicas and terminals sharing PostgreSQL must sign with one key: golive never makes one up there."""
    from tests.conftest import PG_URL

    open_store(PG_URL, schema=pg_schema).close()  # the schema exists, migrated
    path = write_checklist(tmp_path)
    env = {"GOLIVE_OPERATORS_FILE": str(write_operators(tmp_path, "U_A")),
           "GOLIVE_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{pg_schema}"}
    result = golive_in_process("waive", "core.up", "2h", "known", "--checklist", path, env=env, cwd=tmp_path)
    assert result.returncode == 2 and "shared store" in result.stderr and "GOLIVE_AUDIT_KEY_FILE" in result.stderr
    assert not (tmp_path / "state" / "audit.key").exists()
    assert golive_in_process("status", "--checklist", path, env=env, cwd=tmp_path).returncode in (0, 1)  # reads
