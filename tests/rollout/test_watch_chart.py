"""Pictures where people would rather look than read: a watch alert, its all-clear and `golive status`
during a rollout carry a chart of the watched metrics (p95, 5xx error rate, readiness) with the alert
threshold, and the deployment record carries a timeline. Driven by a real watch against the demo target;
the messages are validated (Block Kit through slack_sdk, cards against the Adaptive Card 1.5 schema)."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from typing import Any

from bot.announcements.events import AlertEvent, RecordingNotifier
from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer
from bot.rollout import RolloutRuntime
from bot.rollout.notify import render_event
from bot.runs.service import execute_run
from bot.runs.status import build_status
from bot.slack.views.rollout import alert_message
from bot.slack.views.status import status_message
from bot.store import Store
from bot.teams.cards import status_card
from bot.teams.event_cards import alert_card
from bot.terminal.render import Style, render_status
from checks.spec import Checklist
from tests.rollout.conftest import until
from tests.rollout.test_promote import sign
from tests.slack.support import block_problems
from tests.teams.support import assert_valid_card, card_text


def slack_text(message: Any) -> str:
    payload = {"text": message.text, "blocks": [b.to_dict() if hasattr(b, "to_dict") else b for b in message.blocks]}
    assert block_problems("message", payload) == []
    return html.unescape("\n".join(str((b.get("text") or {}).get("text", "")) for b in payload["blocks"]))


def readiness_line(chart: str) -> str:
    return next(line for line in chart.splitlines() if line.startswith("readiness"))


async def test_alert_all_clear_and_status_carry_the_chart_with_the_breach(
        write_checklist: Callable[..., Checklist], store: Store, locks: RedisLocks, target: DemoServer) -> None:
    checklist = write_checklist(target.base_url)
    recording = RecordingNotifier()
    runtime = await RolloutRuntime.create(checklist, store, recording, locks=locks, prefix=locks.prefix, env={})
    await execute_run(store, checklist, "health.ready")
    sign(store, checklist, "tech_lead", "devops_lead")
    assert (await runtime.service.promote("phase-1", actor="U0TECH")).ok
    watch = runtime.watch()
    await watch.start()
    try:
        await until(lambda: watch.samples >= 3)
        target.set(mode="degraded")  # readiness answers 503
        await until(lambda: any(isinstance(e, AlertEvent) and e.state == "opened" for e in recording.events))
        target.set(mode="healthy")
        await until(lambda: any(isinstance(e, AlertEvent) and e.state == "resolved" for e in recording.events))
        await asyncio.sleep(0.2)
    finally:
        await watch.stop()
    alerts = [e for e in recording.events if isinstance(e, AlertEvent)]
    opened = next(e for e in alerts if e.state == "opened")
    resolved = next(e for e in alerts if e.state == "resolved")

    # the alert's chart shows the breach: readiness down in the latest samples, counted, threshold named
    assert "p95 latency ms" in opened.chart and "5xx error rate %" in opened.chart
    line = readiness_line(opened.chart)
    assert "▼" in line and line.rstrip().endswith("not ready")
    assert line.split()[1][-1] == "▁", "the newest sample (readiness 503) is at the bottom of the scale"
    assert "▼" in readiness_line(resolved.chart) and readiness_line(resolved.chart).split()[1][-1] == "█"

    # every transport shows it: Slack blocks, a valid Teams card, the terminal line of `golive watch`
    assert readiness_line(opened.chart) in slack_text(alert_message(opened))
    card = alert_card(opened)
    assert_valid_card(card)
    assert any(b.get("fontType") == "Monospace" and b["text"] == readiness_line(opened.chart)
               for b in card["body"] if isinstance(b, dict))
    assert readiness_line(opened.chart) in render_event(opened)
    assert_valid_card(alert_card(resolved))
    assert "All clear" in slack_text(alert_message(resolved))

    # status during the rollout: the same chart, and the deployment timeline
    overview = build_status(store, checklist)
    assert overview.rollout_phase == "phase-1"
    assert readiness_line(overview.chart) and "▼" in readiness_line(overview.chart)
    assert "▲ promoted to phase-1 by U0TECH" in overview.timeline
    assert "✖ P0" in overview.timeline and "✔ P0" in overview.timeline
    assert "● run health.ready: GO" in overview.timeline
    terminal = render_status(overview, Style(color=False))
    assert "Watch:" in terminal and "Timeline:" in terminal and readiness_line(overview.chart) in terminal
    assert readiness_line(overview.chart) in slack_text(status_message(overview))
    teams = status_card(overview)
    assert_valid_card(teams)
    assert "promoted to phase-1" in card_text(teams)
    await runtime.close()
