"""Status shows the deployment record (duration, downtime, migration time, rollbacks, success rate) in
the terminal, Slack and Teams alike, from one formatter."""

from __future__ import annotations

from collections.abc import Callable

from bot.demo import DemoServer
from bot.rollout.models import DEPLOYMENT_KEY
from bot.runs.status import build_status, deployment_facts
from bot.slack.views.status import status_message
from bot.store import Store
from bot.teams.cards import status_card
from bot.terminal.render import Style, render_status
from checks.spec import Checklist
from tests.teams.support import card_text

RECORD = {"current_phase": "phase-2", "started_at": "2026-11-21T10:00:00+00:00", "duration_seconds": 4000.0,
          "downtime_seconds": 42.5, "promotions": 3, "promotions_succeeded": 2, "rollback_count": 1,
          "success_rate": 0.3333, "paused": False}


def test_status_shows_the_deployment_record_everywhere(write_checklist: Callable[..., Checklist], store: Store,
                                                       target: DemoServer) -> None:
    checklist = write_checklist(target.base_url)
    store.put(DEPLOYMENT_KEY.format(checklist=checklist.name), RECORD)
    overview = build_status(store, checklist)
    facts = dict(deployment_facts(overview))
    assert facts["Deployment running for"] == "1h 6m"
    assert facts["Downtime (P0 incidents)"] == "42.5s"
    assert facts["Rollbacks"] == "1"
    assert facts["Promotion success rate"] == "33% of 3 promotion(s)"
    terminal = render_status(overview, Style(False))
    assert "Rollbacks: 1" in terminal and "Downtime (P0 incidents): 42.5s" in terminal
    slack = str(status_message(overview).payload())
    assert "Rollbacks: 1" in slack and "33% of 3 promotion(s)" in slack
    assert "33% of 3 promotion(s)" in card_text(status_card(overview))


def test_no_record_before_the_first_promotion(write_checklist: Callable[..., Checklist], store: Store,
                                              target: DemoServer) -> None:
    overview = build_status(store, write_checklist(target.base_url))
    assert deployment_facts(overview) == []
