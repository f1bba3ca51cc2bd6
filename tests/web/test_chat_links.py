"""Chat carries links to the web view when GOLIVE_PUBLIC_URL is set (trimmed evidence, sign-off cards,
alerts, /golive status), and keeps the CLI pointer without it. The links in chat are real, working links."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from bot.announcements.events import AlertEvent, Announcement
from bot.runs.status import build_status
from bot.signoff.service import SignoffService
from bot.slack.views.blocks import evidence_hint
from bot.slack.views.rollout import alert_closed_message, alert_message, announcement_message
from bot.slack.views.run import check_reply
from bot.slack.views.signoff import signoff_card
from bot.slack.views.status import status_message
from bot.teams import cardkit
from bot.teams.cards import signoff_card as teams_signoff_card
from bot.teams.cards import status_card
from bot.teams.event_cards import alert_card, announcement_card
from bot.web import links
from bot.web.links import Linker
from checks.result import CheckResult, Criticality, Status
from checks.spec import Checklist
from tests.cli.inprocess import golive_in_process
from tests.web.conftest import FIXTURES
from tests.web.support import store_run

URL = re.compile(r"http://golive\.test/view/(\w+)/([\w.-]+)\?exp=(\d+)(?:&amp;|&)mac=([\w-]+)")


def long_failure() -> CheckResult:
    return CheckResult(check_id="hostile.output", kind="command", criticality=Criticality.CRITICAL,
                       status=Status.FAIL, summary="exited 1", evidence={"output_tail": "line of output\n" * 400})


def verified(linker: Linker, text: str) -> list[tuple[str, str]]:
    """(kind, id) of every web view link in `text`, each checked to be a valid signed link."""
    found = []
    for kind, object_id, exp, mac in URL.findall(text):
        assert linker.refusal(kind, object_id, exp, mac) is None, (kind, object_id)
        found.append((kind, object_id))
    return found


def test_trimmed_evidence_links_to_the_run_page_in_slack_and_teams(linker: Linker) -> None:
    reply = check_reply(long_failure(), "4c6fb00410a04de4")
    text = json.dumps(reply.payload())
    assert "evidence truncated" in text
    assert verified(linker, text) == [("run", "4c6fb00410a04de4")]
    assert "golive status --run" not in text
    assert verified(linker, cardkit.trimmed_note("4c6fb00410a04de4")) == [("run", "4c6fb00410a04de4")]


def test_without_a_public_url_the_cli_pointer_stays() -> None:
    links.configure(None)
    try:
        assert evidence_hint("4c6fb00410a04de4") == "… (full evidence: `golive status --run 4c6fb00410a04de4`)"
        assert "/view/" not in json.dumps(check_reply(long_failure(), "4c6fb00410a04de4").payload())
        assert cardkit.trimmed_note("abc") == "… (full evidence: `golive status --run abc`)"
    finally:
        links.reset()


def test_signoff_cards_and_alerts_link_to_their_pages(linker: Linker, store: Any, checklist: Checklist) -> None:
    service = SignoffService(store, checklist)
    request = service.open_request("pre", requested_by="U0RELEASE")
    stage = service.stage("pre")
    assert verified(linker, json.dumps(signoff_card(request, stage).payload())) == [("signoff", request.id)]
    assert verified(linker, json.dumps(teams_signoff_card(request, stage))) == [("signoff", request.id)]
    alert = AlertEvent(incident_id="inc-1", state="opened", level="P0", rule="p95_latency",
                       message="p95 latency 2430 ms > 2000 ms", checklist="webtest", phase="phase-2")
    assert verified(linker, json.dumps(alert_message(alert).payload())) == [("rollout", "webtest")]
    assert verified(linker, json.dumps(alert_card(alert))) == [("rollout", "webtest")]
    assert verified(linker, json.dumps(alert_closed_message(alert).payload())) == [("rollout", "webtest")]
    promoted = Announcement(kind="promoted", checklist="webtest", phase="phase-2", actor="U0DEVOPS")
    assert verified(linker, json.dumps(announcement_message(promoted).payload())) == [("record", "webtest")]
    assert verified(linker, json.dumps(announcement_card(promoted))) == [("record", "webtest")]


def test_golive_status_in_slack_and_teams_posts_fresh_links_to_every_page(linker: Linker, store: Any,
                                                                          checklist: Checklist) -> None:
    overview = build_status(store, checklist)
    expected = [(kind, "webtest") for kind in ("status", "rollout", "record", "audit")]
    assert verified(linker, json.dumps(status_message(overview).payload())) == expected
    assert verified(linker, json.dumps(status_card(overview))) == expected


def test_golive_link_prints_a_fresh_link_and_refuses_clearly(tmp_path: Path, store: Any,
                                                             checklist: Checklist) -> None:
    from bot.store import open_store

    env = {"GOLIVE_PUBLIC_URL": "http://golive.test", "GOLIVE_LINK_KEY": "k" * 32, "GOLIVE_LINK_TTL": "2h"}
    args = ("--checklist", str(FIXTURES / "webview.yml"))
    state = open_store(sqlite_path=tmp_path / "state" / "golive.db")
    try:
        run_id = store_run(state, checklist)
        request_id = SignoffService(state, checklist).open_request("pre", requested_by="U0RELEASE").id
    finally:
        state.close()
    linker = Linker("http://golive.test", b"k" * 32)
    for what, expected in (("audit", ("audit", "webtest")), ("record", ("record", "webtest")),
                           ("status", ("status", "webtest")), (run_id, ("run", run_id)),
                           (f"signoff {request_id}", ("signoff", request_id))):
        done = golive_in_process("link", *what.split(), *args, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert verified(linker, done.stdout) == [expected]
        exp = int(URL.search(done.stdout).group(3))  # type: ignore[union-attr]
        assert 7100 < exp - time.time() <= 7200  # GOLIVE_LINK_TTL=2h
    done = golive_in_process("link", "feedfacefeedface", *args, env=env, cwd=tmp_path)
    assert done.returncode == 2 and "no run 'feedfacefeedface'" in done.stderr and "Traceback" not in done.stderr
    done = golive_in_process("link", "audit", *args, env={}, cwd=tmp_path)
    assert done.returncode == 2 and "GOLIVE_PUBLIC_URL" in done.stderr
    done = golive_in_process("link", "audit", *args, env={**env, "GOLIVE_LINK_TTL": "forever"}, cwd=tmp_path)
    assert done.returncode == 2 and "GOLIVE_LINK_TTL" in done.stderr

