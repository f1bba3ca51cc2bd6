"""Follows one run in a channel: posts the parent on creation, threads a reply per failed or warned
check, throttles progress edits of the parent, and ends it with the verdict (or 'interrupted')."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from bot.chatops.service import RunHooks
from bot.runs.service import RunOutcome
from bot.slack.deps import SlackDeps
from bot.slack.throttle import ThrottledUpdate
from bot.slack.views.blocks import SlackMessage
from bot.slack.views.run import NOTEWORTHY, check_reply, run_interrupted, run_progress, run_verdict
from bot.store import MessageRef, RunRecord
from checks.result import CheckResult

log = logging.getLogger("golive.slack")

FINAL_KEY = "slack:run-final:{run_id}"
"""Set once a run's parent shows its final state, so recovery never repaints a finished message."""


async def show_final(deps: SlackDeps, parent: MessageRef, message: SlackMessage, run_id: str) -> bool:
    """Put a run's final state (verdict or interrupted) in its parent and remember that it is final."""
    if not await deps.poster.update(parent, message):
        return False
    await asyncio.to_thread(deps.store.put, FINAL_KEY.format(run_id=run_id), True)
    return True


async def complete_even_if_cancelled(coro: Coroutine[Any, Any, None]) -> None:
    """Finish `coro` although our task is being cancelled (then re-raise): a message that was posted
    must be known, or a shutdown right after posting would leave it saying 'running' forever."""
    task = asyncio.ensure_future(coro)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=20)
        raise


class RunPresenter:
    def __init__(self, deps: SlackDeps, channel: str) -> None:
        self.deps = deps
        self.channel = channel
        self.run: RunRecord | None = None
        self.parent: MessageRef | None = None
        self.results: list[CheckResult] = []
        self.total = 0
        self.post_error: str | None = None
        self.throttle = ThrottledUpdate(deps.progress_interval, self._push_progress)

    def hooks(self) -> RunHooks:
        return RunHooks(on_created=self.created, on_result=self.result)

    async def created(self, run: RunRecord) -> None:
        self.run, self.total = run, len(run.expected)
        await complete_even_if_cancelled(self._post_parent(run))

    async def _post_parent(self, run: RunRecord) -> None:
        self.parent = await self.deps.poster.post(run_progress(run, [], self.total), channel=self.channel,
                                                  subject=run.id, purpose="parent")
        if self.parent is None:
            self.post_error = self.deps.poster.last_error

    async def result(self, run: RunRecord, result: CheckResult, done: int, total: int) -> None:
        self.results.append(result)
        if self.parent is None:
            return
        if result.status in NOTEWORTHY:
            await self.deps.poster.post(check_reply(result, run.id), channel=self.parent.channel,
                                        thread_ts=self.parent.ts,
                                        subject=run.id, purpose=f"thread:{result.check_id}")
        self.throttle.request()

    async def _push_progress(self) -> None:
        if self.parent is not None and self.run is not None:
            await self.deps.poster.update(self.parent, run_progress(self.run, list(self.results), self.total))

    async def _final(self, message: SlackMessage) -> None:
        parent, run = self.parent, self.run
        if parent is None or run is None:
            return

        async def send() -> None:
            await show_final(self.deps, parent, message, run.id)

        await self.throttle.final(send)

    async def finish(self, outcome: RunOutcome) -> None:
        report = outcome.report
        await self._final(run_verdict(outcome.run, report.results, report.verdict, report.wall_ms))

    async def interrupted(self) -> None:
        """The run was cancelled (shutdown): say so in the parent, with a Re-run button."""
        if self.run is None:
            return
        try:
            await asyncio.wait_for(self._final(run_interrupted(self.run, self.results, self.total)), timeout=5)
        except Exception as exc:  # shutting down: recovery on the next start repaints it
            log.warning("could not mark run %s interrupted in Slack: %s", self.run.id, type(exc).__name__)
