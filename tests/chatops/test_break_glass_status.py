"""A break-glass action is listed by the status of every transport (it rides in the status warnings that
the terminal, Slack, Teams and the web view all show) until a sign-off role holder acknowledges it."""

from __future__ import annotations

import json
from pathlib import Path

from bot.authority.breakglass import acknowledge, record
from bot.authority.identity import CliIdentity
from bot.runs.status import build_status
from bot.slack.views.status import status_message
from bot.store import open_store
from bot.terminal.render import Style, render_status
from checks.loader import load_checklist
from tests.cli.test_small_gaps import write_checklist


def test_every_status_lists_an_unacknowledged_break_glass_until_it_is_acknowledged(tmp_path: Path) -> None:
    checklist = load_checklist(write_checklist(tmp_path))
    store = open_store(None, sqlite_path=tmp_path / "state" / "golive.db")
    try:
        item = record(store, checklist.name, "promote", CliIdentity(os_user="alice", host="build-7"),
                      "Slack is down, INC-42")
        overview = build_status(store, checklist)
        shown = [w for w in overview.warnings if item.id in w]
        assert len(shown) == 1 and "alice@build-7" in shown[0] and "INC-42" in shown[0], overview.warnings
        assert f"acknowledge {item.id}" in shown[0]
        assert item.id in render_status(overview, Style(False))
        slack = status_message(overview)
        assert item.id in json.dumps(slack.payload())

        acknowledge(store, item.id, by="U_A", transport="slack")
        after = build_status(store, checklist)
        assert not [w for w in after.warnings if item.id in w]
        assert item.id not in json.dumps(status_message(after).payload())
    finally:
        store.close()
