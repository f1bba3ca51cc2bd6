"""Following one run in a conversation, for every transport: the parent message on creation (or one
posted already, e.g. Teams' "started" card), throttled progress edits that always end on the final state,
the evidence of noteworthy checks in the thread, and the verdict (or 'interrupted') in the parent.

Evidence is delivered by one sender per run, paced by the channel's pacer. While it waits for a slot the
next results pile up and go out together (up to `group` per reply), so a run with many failures posts
fewer replies instead of hitting the rate limit and losing some. A reply that still fails after the
transport's retries is recorded in the store, and the verdict says which evidence is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from bot.chatops.service import RunHooks
from bot.conversation.base import Conversation
from bot.conversation.throttle import ThrottledUpdate
from bot.conversation.views import NOTEWORTHY, EvidenceReply, Line, RunFinal, RunInterrupted, RunProgress
from bot.runs.service import RunOutcome
from bot.runs.status import DELIVERY_FAILURES_KEY
from bot.store import MessageRef, RunRecord
from checks.result import CheckResult

log = logging.getLogger("golive.conversation")

FINAL_KEY = "run-final:{transport}:{run_id}"
"""Set once a run's parent shows its final state, so recovery never repaints a finished message (the keys
each transport used before this layer existed were renamed to it by store migration 0007)."""


async def mark_final(conversation: Conversation, run_id: str) -> None:
    await asyncio.to_thread(conversation.store.put, FINAL_KEY.format(transport=conversation.transport, run_id=run_id),
                            True)


async def is_final(conversation: Conversation, run_id: str) -> bool:
    key = FINAL_KEY.format(transport=conversation.transport, run_id=run_id)
    return bool(await asyncio.to_thread(conversation.store.get, key))


async def show_final(conversation: Conversation, parent: MessageRef, view: Any, run_id: str) -> bool:
    """Put a run's final state (verdict or interrupted) in its parent and remember that it is final."""
    if not await conversation.update(parent, view):
        return False
    await mark_final(conversation, run_id)
    return True


async def complete_even_if_cancelled(coro: Coroutine[Any, Any, Any]) -> None:
    """Finish `coro` although our task is being cancelled (then re-raise): a message that was posted
    must be known, or a shutdown right after posting would leave it saying 'running' forever."""
    task = asyncio.ensure_future(coro)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=20)
        raise


class RunFollower:
    def __init__(self, conversation: Conversation, channel: str, *, interval: float = 1.2,
                 parent: MessageRef | None = None, group: int = 5) -> None:
        self.conversation = conversation
        self.channel = channel
        self.run: RunRecord | None = None
        self.parent = parent
        self.results: list[CheckResult] = []
        self.total = 0
        self.group = max(1, group)
        self.post_error: str | None = None
        self.throttle = ThrottledUpdate(interval, self._push_progress)
        self._pending: list[CheckResult] = []
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._closing = False
        self.replies_posted = 0
        self.failed_replies = 0
        self.undelivered: list[str] = []

    def hooks(self) -> RunHooks:
        return RunHooks(on_created=self.created, on_result=self.result)

    # -- the run's life ------------------------------------------------------------------------------
    async def created(self, run: RunRecord) -> None:
        self.run, self.total = run, len(run.expected)
        await complete_even_if_cancelled(self._open(run))

    async def _open(self, run: RunRecord) -> None:
        if self.parent is not None:  # posted before the run existed: remember it under the run now
            self.parent = MessageRef(subject=run.id, transport=self.conversation.transport, purpose="parent",
                                     channel=self.parent.channel, ts=self.parent.ts, thread_ts=self.parent.thread_ts)
            await self.conversation.remember(self.parent, subject=run.id, purpose="parent")
            self.throttle.request()
            return
        self.parent = await self.conversation.post(RunProgress(run, [], self.total), channel=self.channel,
                                                   subject=run.id, purpose="parent")
        if self.parent is None:
            self.post_error = self.conversation.last_error

    async def result(self, run: RunRecord, result: CheckResult, done: int, total: int) -> None:
        self.results.append(result)
        if self.parent is None:
            return
        if result.status in NOTEWORTHY:
            self._pending.append(result)
            self._wake.set()
            if self._sender is None:
                self._sender = asyncio.create_task(self._send_evidence())
        self.throttle.request()

    async def _push_progress(self) -> None:
        if self.parent is not None and self.run is not None:
            await self.conversation.update(self.parent, RunProgress(self.run, list(self.results), self.total))

    # -- evidence --------------------------------------------------------------------------------------
    async def _send_evidence(self) -> None:
        assert self.parent is not None
        parent, run_id = self.parent, self.parent.subject
        pacer, key = self.conversation.pacer, self.conversation.pace_key(parent.channel)
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await pacer.wait(key)  # results arriving meanwhile join this reply
            batch = self._next_batch()
            purpose = "thread:" + ",".join(r.check_id for r in batch)
            ref = await self.conversation.post(EvidenceReply(run_id, batch), channel=parent.channel, thread=parent,
                                               subject=run_id, purpose=purpose[:200], paced=False)
            if ref is None:
                self.failed_replies += 1
                self.undelivered += [r.check_id for r in batch]
                await self._record_failure(run_id, batch)
            else:
                self.replies_posted += 1

    def _next_batch(self) -> list[CheckResult]:
        """Up to `group` pending results; a check waiting for a person's Confirm gets a reply of its own
        (the button edits that reply)."""
        if self._pending[0].needs_confirmation:
            batch = [self._pending.pop(0)]
            return batch
        batch = []
        while self._pending and len(batch) < self.group and not self._pending[0].needs_confirmation:
            batch.append(self._pending.pop(0))
        return batch

    async def _record_failure(self, run_id: str, batch: list[CheckResult]) -> None:
        key = DELIVERY_FAILURES_KEY.format(run_id=run_id)
        entry = {"transport": self.conversation.transport, "what": "evidence",
                 "checks": [r.check_id for r in batch], "error": self.conversation.last_error or ""}
        try:
            known = await asyncio.to_thread(self.conversation.store.get, key) or []
            await asyncio.to_thread(self.conversation.store.put, key, [*known, entry])
        except Exception as exc:  # the verdict still says what is missing
            log.warning("could not record an undelivered evidence reply of %s: %s", run_id, type(exc).__name__)

    async def _flush_evidence(self) -> None:
        self._closing = True
        self._wake.set()
        if self._sender is not None:
            await self._sender

    # -- the end -----------------------------------------------------------------------------------------
    async def _final(self, view: Any, *fallbacks: Any) -> bool:
        """The final state in the parent; if the service refuses it (too big, say), each smaller fallback in
        turn. False when none could be shown."""
        parent, run = self.parent, self.run
        if parent is None or run is None:
            return False
        shown = False

        async def send() -> None:
            nonlocal shown
            for candidate in (view, *fallbacks):
                if await show_final(self.conversation, parent, candidate, run.id):
                    shown = True
                    return

        await self.throttle.final(send)
        return shown

    async def finish(self, outcome: RunOutcome) -> bool:
        """Deliver every piece of evidence, then the verdict (which never claims evidence it lost). If the
        verdict cannot be shown in the parent, the smallest form of it; if not even that, one plain line."""
        await self._flush_evidence()
        full = self.final_view(outcome)
        if self.parent is None or await self._final(full, replace(full, compact=True)):
            return self.parent is not None
        run = outcome.run
        line = Line(f"golive could not post the result of run {run.id} here ({outcome.report.verdict.decision.label}"
                    f"); it is recorded: `golive status --run {run.id}`.")
        if await self.conversation.post(line, channel=self.parent.channel, thread=self.parent, paced=False):
            await mark_final(self.conversation, run.id)
        return True

    def final_view(self, outcome: RunOutcome) -> RunFinal:
        report = outcome.report
        return RunFinal(outcome.run, report.results, report.verdict, report.wall_ms,
                        undelivered=list(self.undelivered), failed_replies=self.failed_replies)

    async def interrupted(self) -> None:
        """The run was cancelled (shutdown): say so in the parent, with a Re-run button."""
        if self._sender is not None:
            self._sender.cancel()
        if self.run is None:
            return
        try:
            await asyncio.wait_for(self._final(RunInterrupted(self.run, list(self.results), self.total)), timeout=5)
        except Exception as exc:  # shutting down: recovery on the next start repaints it
            log.warning("could not mark run %s interrupted: %s", self.run.id, type(exc).__name__)
