"""`golive waive` from a terminal (issue 10, Done-when 4): grant, expiry, revoke, role refusal, audit;
`golive status` (its verdict and its exit code) changes with the waiver and changes back."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.signoff.service import SignoffService
from bot.store import open_store
from checks.loader import load_checklist
from tests.operators import write_operators
from tests.waiver_support import seed_results


def write(tmp_path: Path) -> str:
    data = {
        "name": "waivable", "target": {"base_url": "http://127.0.0.1:9"},
        "phases": [{"id": "p", "checks": [
            {"id": "core.up", "kind": "env", "criticality": "critical", "params": {"var": "X"}},
            {"id": "core.db", "kind": "env", "criticality": "critical", "waivable": True, "params": {"var": "X"}},
            {"id": "cache.warm", "kind": "env", "criticality": "high", "params": {"var": "X"}},
        ]}],
        "signoffs": {"pre": {"roles": [{"id": "lead", "title": "Lead", "members": ["U_LEAD"]}]}},
    }
    path = tmp_path / "waivable.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def status(path: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["status", "--checklist", path, "--json", "--strict"])
    return code, json.loads(capsys.readouterr().out)


def test_waive_grant_expire_revoke_refuse_and_audit_through_the_cli(
        isolated_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_OPERATORS_FILE", str(write_operators(tmp_path, "U_LEAD", "U_STRANGER")))
    path = write(tmp_path)
    checklist = load_checklist(path)
    store = open_store(sqlite_path=tmp_path / "state" / "golive.db")
    seed_results(store, checklist, {"core.up": "pass", "core.db": "pass", "cache.warm": "fail"})
    signoffs = SignoffService(store, checklist)
    signoffs.record(signoffs.open_request("pre", requested_by="U_RELEASE").id, "lead", "approve", user_id="U_LEAD")
    code, before = status(path, capsys)
    assert code == 1 and before["verdict"]["decision"] == "go_conditional"  # --strict: conditional fails

    # role refusal: not a sign-off role member; audited as access.denied, nothing granted
    assert main(["waive", "cache.warm", "2h", "cache", "warms", "--by", "U_STRANGER", "--checklist", path]) == 1
    assert "waive refused" in capsys.readouterr().out
    assert store.audit_log(action="access.denied", limit=1)[0]["actor"] == "U_STRANGER"
    # a critical check cannot be waived unless the checklist says so
    assert main(["waive", "core.up", "2h", "known", "--by", "U_LEAD", "--checklist", path]) == 1
    assert "does not allow waiving it" in capsys.readouterr().out
    assert main(["waive", "cache.warm", "soon", "x", "--by", "U_LEAD", "--checklist", path]) == 2  # bad duration
    assert main(["waive", "cache.warm", "2h", "--by", "U_LEAD", "--checklist", path]) == 2  # no reason

    # grant: the verdict becomes GO, status lists the waiver
    assert main(["waive", "cache.warm", "2s", "cache", "warms", "up", "--by", "U_LEAD", "--checklist", path]) == 0
    code, waived = status(path, capsys)
    assert code == 0 and waived["verdict"]["decision"] == "go"
    assert waived["waivers"][0]["by"] == "U_LEAD" and waived["waivers"][0]["reason"] == "cache warms up"
    assert "cache.warm: waived by U_LEAD until" in waived["verdict"]["waived"][0]
    main(["status", "--checklist", path])
    shown = capsys.readouterr().out
    assert "Waived:" in shown and "Waiver cache.warm: by U_LEAD, until" in shown  # verdict and deployment record

    time.sleep(2.1)  # expiry: it counts again
    code, expired = status(path, capsys)
    assert code == 1 and expired["verdict"]["decision"] == "go_conditional" and expired["waivers"] == []

    # revoke before expiry
    assert main(["waive", "cache.warm", "2h", "cache", "warms", "--by", "U_LEAD", "--checklist", path]) == 0
    assert status(path, capsys)[0] == 0
    assert main(["waive", "cache.warm", "--revoke", "--by", "U_LEAD", "--checklist", path]) == 0
    assert status(path, capsys)[0] == 1
    assert main(["waive", "cache.warm", "--revoke", "--by", "U_LEAD", "--checklist", path]) == 1  # nothing live

    # a critical check the checklist marks waivable: NO-GO → GO while waived
    seed_results(store, checklist, {"core.db": "fail", "cache.warm": "pass"})
    assert status(path, capsys)[1]["verdict"]["decision"] == "no_go"
    assert main(["waive", "core.db", "30m", "replica", "lag", "accepted", "--by", "U_LEAD", "--checklist", path]) == 0
    assert status(path, capsys)[1]["verdict"]["decision"] == "go"

    actions = [row["action"] for row in store.audit_log(limit=50) if row["action"].startswith("waiver.")]
    assert actions.count("waiver.granted") == 3 and actions.count("waiver.revoked") == 1
    assert actions.count("waiver.refused") == 1
    granted = store.audit_log(action="waiver.granted", limit=1)[0]
    assert granted["actor"] == "U_LEAD" and granted["detail"]["transport"] == "cli"
    store.close()
