"""Notifiers of the rollout's own: a terminal line per event (`golive watch`, `golive promote`) and a
JSON-lines file (for other tooling, and for tests that watch several bot processes at once)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from bot.announcements.events import AlertEvent, Announcement, ChannelNotice, Event, Notifier, RunReported
from bot.runs.service import RunOutcome


def render_event(event: Event) -> str:
    """One line a person reads in a terminal: level, state, phase and what broke which threshold."""
    stamp = event.at.strftime("%H:%M:%S")
    if isinstance(event, ChannelNotice):
        return f"{stamp} {event.text}"
    if isinstance(event, RunReported):
        failed = [r.check_id for r in event.results if r.status.value in ("fail", "error")]
        return (f"{stamp} 🗓️ {event.checklist}: scheduled run {event.run_id} of {event.selector}: "
                f"{event.verdict.decision.label}" + (f" (failed: {', '.join(failed)})" if failed else ""))
    if isinstance(event, AlertEvent):
        icon = {"opened": "🔴" if event.level == "P0" else "🟠", "escalated": "📣", "resolved": "✅"}[event.state]
        state = event.state if event.healthy else "closed"  # a rollback closed it: not "resolved", no ✅
        icon = icon if event.healthy else "⏹️"
        actions = f"  [{' / '.join(event.actions)}]" if event.actions else ""
        mention = f" {event.mention}" if event.mention else ""
        line = (f"{stamp} {icon} {event.level} {state} on {event.phase}{mention}: {event.message}"
                f"  ({event.incident_id}){actions}")
        return line + ("\n" + "\n".join(f"    {row}" for row in event.chart.splitlines()) if event.chart else "")
    line = f"{stamp} 📣 {event.checklist}: {event.headline}" + (f" (by {event.by_person})" if event.by_person else "")
    if event.flags:
        line += " — " + ", ".join(f"{k}={v}" for k, v in event.flags.items())
    if event.reasons:
        line += " — " + "; ".join(event.reasons)
    return line


def event_dict(event: Event) -> dict[str, Any]:
    if isinstance(event, RunReported):
        return {"type": "run", "checklist": event.checklist, "run_id": event.run_id, "selector": event.selector,
                "verdict": event.verdict.model_dump(mode="json"), "at": event.at.isoformat(),
                "subject": event.subject}
    if isinstance(event, ChannelNotice):
        return {"type": event.kind, "text": event.text, "at": event.at.isoformat(), "subject": event.subject}
    data = asdict(event)
    data["type"] = "alert" if isinstance(event, AlertEvent) else "announcement"
    data["at"] = event.at.isoformat()
    data["subject"] = event.subject
    return data


def run_reporter(notifier: Notifier) -> Callable[[str, RunOutcome], Awaitable[None]]:
    """The supervisor's `on_run`: a scheduled run's verdict goes to every channel, like an announcement."""

    async def report(phase_id: str, outcome: RunOutcome) -> None:
        run, result = outcome.run, outcome.report
        await notifier.publish(RunReported(checklist=run.checklist, run_id=run.id, selector=run.selector,
                                           requested_by=run.requested_by, verdict=result.verdict,
                                           results=result.results, wall_ms=result.wall_ms))

    return report


class TerminalNotifier:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def publish(self, event: Event) -> None:
        stream = self.stream or sys.stdout
        stream.write(render_event(event) + "\n")
        stream.flush()


class JsonlNotifier:
    """Appends one JSON object per event (with the publishing process id) to a file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    async def publish(self, event: Event) -> None:
        data = {**event_dict(event), "pid": os.getpid()}
        await asyncio.to_thread(self._append, json.dumps(data, default=str))


__all__ = ["AlertEvent", "Announcement", "JsonlNotifier", "TerminalNotifier", "event_dict", "render_event"]
