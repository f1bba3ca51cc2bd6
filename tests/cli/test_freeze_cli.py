"""Release freezes (issue 10, Done-when 5): a checklist window or a declared freeze refuses `golive promote`
with the window named; an override signed by a role the checklist names lets it through; anyone else is
refused and audited. Cron-like windows (Friday 16:00 for 64 h) cover exactly their span."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.policy.freeze import window_occurrence
from bot.signoff.service import SignoffService
from bot.store import open_store
from checks.loader import load_checklist
from checks.spec import FreezeWindow
from tests.operators import write_operators
from tests.waiver_support import seed_results


def test_a_weekly_window_covers_friday_evening_to_monday_morning() -> None:
    weekend = FreezeWindow(id="weekend", cron="0 16 * * FRI", duration="64h")
    friday = datetime(2026, 11, 27, tzinfo=UTC)  # a Friday
    assert window_occurrence(weekend, friday.replace(hour=15, minute=59)) is None
    start, end = window_occurrence(weekend, friday.replace(hour=16))  # type: ignore[misc]
    assert start == friday.replace(hour=16) and end == friday + timedelta(days=3, hours=8)
    assert window_occurrence(weekend, friday + timedelta(days=3, hours=7, minutes=59)) is not None  # Monday 07:59
    assert window_occurrence(weekend, friday + timedelta(days=3, hours=8)) is None  # Monday 08:00
    assert window_occurrence(weekend, friday - timedelta(days=2)) is None  # Wednesday
    with pytest.raises(ValueError, match="either cron"):
        FreezeWindow(id="bad", cron="0 16 * * FRI")


def write(tmp_path: Path) -> str:
    now = datetime.now(UTC)
    data = {
        "name": "frozen", "target": {"base_url": "http://127.0.0.1:9"},
        "phases": [{"id": "p", "checks": [{"id": "core.up", "kind": "env", "criticality": "critical",
                                           "params": {"var": "X"}}]}],
        "signoffs": {"pre": {"roles": [{"id": "lead", "title": "Lead", "members": ["U_LEAD"]},
                                       {"id": "dev", "title": "Developer", "members": ["U_DEV"]}]}},
        "freeze": {"override_roles": ["lead"], "windows": [
            {"id": "year-end", "reason": "year-end close", "start": (now - timedelta(hours=1)).isoformat(),
             "end": (now + timedelta(hours=1)).isoformat()}]},
        "rollout": {"provider": {"kind": "dotenv", "path": "flags.env"},
                    "phases": [{"id": "phase-1", "flags": {"A": True}, "requires_signoff": []},
                               {"id": "phase-2", "flags": {"A": True, "B": True}, "requires_signoff": []}]},
    }
    (tmp_path / "flags.env").write_text("A=false\nB=false\n")
    path = tmp_path / "frozen.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def test_a_freeze_refuses_promote_and_an_override_by_the_named_role_allows_it(
        isolated_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # this OS user may act as any of the three (the operators file grants them); the access table decides
    monkeypatch.setenv("GOLIVE_OPERATORS_FILE", str(write_operators(tmp_path, "U_DEV", "U_LEAD", "U_NOBODY")))
    path = write(tmp_path)
    checklist = load_checklist(path)
    store = open_store(sqlite_path=tmp_path / "state" / "golive.db")
    seed_results(store, checklist, {"core.up": "pass"})
    signoffs = SignoffService(store, checklist)
    request = signoffs.open_request("pre", requested_by="U_RELEASE")
    signoffs.record(request.id, "lead", "approve", user_id="U_LEAD")
    signoffs.record(request.id, "dev", "approve", user_id="U_DEV")

    assert main(["freeze", "--checklist", path]) == 0
    assert "release freeze year-end until" in capsys.readouterr().out
    assert main(["promote", "phase-1", "--checklist", path, "--by", "U_DEV"]) == 1
    out = capsys.readouterr().out
    assert "release freeze year-end until" in out and "year-end close" in out and "lead" in out
    assert (tmp_path / "flags.env").read_text() == "A=false\nB=false\n"

    # a developer is not in the override roles: refused and audited
    assert main(["freeze", "--override", "--reason", "hotfix", "--by", "U_DEV", "--checklist", path]) == 1
    assert "only members of the override roles (lead)" in capsys.readouterr().out
    assert store.audit_log(action="freeze.override_refused", limit=1)[0]["actor"] == "U_DEV"
    assert main(["promote", "phase-1", "--checklist", path, "--by", "U_DEV"]) == 1

    assert main(["freeze", "--override", "--reason", "security fix", "--by", "U_LEAD", "--checklist", path]) == 0
    assert main(["promote", "phase-1", "--checklist", path, "--by", "U_DEV"]) == 0
    assert (tmp_path / "flags.env").read_text().startswith("A=true")
    overridden = store.audit_log(action="freeze.overridden", limit=1)[0]
    assert overridden["actor"] == "U_LEAD" and overridden["detail"]["role"] == "pre:lead"

    # a freeze declared from the terminal refuses the next promotion until it is lifted
    assert main(["freeze", "--until", "2h", "--reason", "quarter close", "--by", "U_DEV", "--checklist", path]) == 0
    capsys.readouterr()
    assert main(["promote", "phase-2", "--checklist", path, "--by", "U_DEV"]) == 1
    assert "quarter close" in capsys.readouterr().out
    assert main(["freeze", "--until", "yesterday", "--reason", "x", "--by", "U_DEV", "--checklist", path]) == 2
    assert main(["freeze", "--until", "2h", "--reason", "x", "--by", "U_NOBODY", "--checklist", path]) == 1
    assert main(["freeze", "--lift", "--by", "U_DEV", "--checklist", path]) == 0
    assert main(["promote", "phase-2", "--checklist", path, "--by", "U_DEV"]) == 0
    actions = {row["action"] for row in store.audit_log(limit=60)}
    assert {"freeze.declared", "freeze.lifted", "freeze.overridden", "freeze.override_refused"} <= actions
    store.close()
