"""The in-memory transport (like errbot's testbot): a whole conversation held in lists, so the shared
workflows can be exercised without any chat service, and so a new transport has a small model to copy.
It renders every view to plain text; `fail_posts` makes the next posts fail like a service would, and
`fail_next` answers like a platform does (429 with Retry-After, a 5xx), retried as the real ones are."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import singledispatch
from typing import Any

from bot.announcements.events import AlertEvent, Announcement, RunReported
from bot.chatops.commands import parse_command
from bot.chatops.replies import Denied, Failed, HelpReply, Notice, RunBusy, SignoffDecided, SignoffOpened
from bot.chatops.service import RunHooks
from bot.conversation.base import Conversation, DeliveryError
from bot.conversation.follower import RunFollower
from bot.conversation.pacing import Pacer
from bot.conversation.pipeline import Inbound, InboundPipeline, ReplySink
from bot.conversation.replies import deliver_reply
from bot.conversation.retry import Retryable, RetryPolicy
from bot.conversation.tasks import TaskTracker
from bot.conversation.views import (
    AlertClosed,
    EvidenceReply,
    Line,
    RunFinal,
    RunInterrupted,
    RunProgress,
    RunStarted,
    SignoffMoved,
)
from bot.runs.service import RunOutcome
from bot.runs.status import StatusOverview
from bot.signoff.service import SignoffRequest
from bot.store import MessageRef, Store
from checks.spec import SignoffStage

TRANSPORT = "memory"


@dataclass
class Said:
    id: str
    channel: str
    text: str
    thread: str | None = None
    private_to: str | None = None
    broadcast: bool = False
    edits: list[str] = field(default_factory=list)

    @property
    def current(self) -> str:
        return self.edits[-1] if self.edits else self.text


@singledispatch
def render(view: Any) -> str:
    return type(view).__name__


@render.register
def _(view: RunStarted) -> str:
    return f"started {view.selector}"


@render.register
def _(view: RunProgress) -> str:
    return f"running {view.run.selector} {len(view.results)}/{view.total}"


@render.register
def _(view: RunFinal) -> str:
    return f"verdict {view.run.selector} {view.verdict.decision.label} ({view.evidence_note})"


@render.register
def _(view: Line) -> str:
    return view.text


@render.register
def _(view: RunInterrupted) -> str:
    return f"interrupted {view.run.selector} [Re-run]"


@render.register
def _(view: EvidenceReply) -> str:
    return "evidence " + ", ".join(f"{r.check_id} {r.status.value}" for r in view.results)


@render.register
def _(view: Announcement) -> str:
    return f"announce {view.headline}" + (f": {'; '.join(view.reasons)}" if view.reasons else "")


@render.register
def _(view: AlertEvent) -> str:
    buttons = " [Roll back] [Keep going]" if view.actions and view.state != "resolved" else ""
    return f"alert {view.state} {view.incident_id}{buttons}"


@render.register
def _(view: AlertClosed) -> str:
    return f"alert closed {view.incident_id}"


@render.register
def _(view: RunReported) -> str:
    return f"scheduled {view.selector} {view.verdict.decision.label}"


@render.register
def _(view: HelpReply) -> str:
    lines = [f"  {usage} — {what}" for usage, what in view.usage]
    return "\n".join(["help: " + (view.problem or view.unknown or "commands"), *lines])


@render.register(Denied)
@render.register(Failed)
@render.register(Notice)
@render.register(RunBusy)
def _(view: Any) -> str:
    return f"{type(view).__name__}: {getattr(view, 'reason', '') or getattr(view, 'message', '') or view}"


_PAST = {"approve": "approved", "reject": "rejected"}


def _signoff(request: SignoffRequest, stage: SignoffStage) -> str:
    roles = []
    for role in stage.roles:
        done = request.decisions.get(role.id)
        roles.append(f"{role.id} {_PAST.get(done.decision, done.decision)} by {done.user_id}" if done
                     else f"{role.id} waiting [Approve] [Reject]")
    return f"signoff {request.stage} ({request.id}): " + "; ".join(roles)


@render.register(SignoffOpened)
@render.register(SignoffDecided)
def _(view: Any) -> str:
    return _signoff(view.request, view.stage)


@render.register
def _(view: StatusOverview) -> str:
    phases = ", ".join(f"{p.id} {sum(p.counts.values())}/{p.total}" for p in view.phases)
    return f"status {view.checklist}: {view.verdict.decision.label}; {phases}"


@render.register
def _(view: SignoffMoved) -> str:
    return f"signoff {view.request.stage}: this card moved to {view.current.ts}"


class PlatformError(DeliveryError):
    """What the platform answered instead of delivering (its status; never the body it sent)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the chat service answered HTTP {status}")
        self.status = status


class MemoryConversation(Conversation):
    transport = TRANSPORT

    def __init__(self, store: Store, *, pacer: Pacer | None = None, retry: RetryPolicy | None = None) -> None:
        super().__init__(store, pacer=pacer)
        self.said: list[Said] = []
        self._ids = itertools.count(1)
        self.fail_posts = 0
        self.retry = retry or RetryPolicy()
        self.failures: dict[str, list[tuple[int, float | None]]] = {}

    def fail_next(self, kind: str, status: int, *, after: float | None = None, times: int = 1) -> None:
        """The next `times` posts or updates ("post", "update") get this answer from the 'platform'."""
        self.failures.setdefault(kind, []).extend([(status, after)] * times)

    async def _platform(self, kind: str) -> None:
        async def attempt() -> None:
            if queue := self.failures.get(kind):
                status, after = queue.pop(0)
                if status == 429 or status >= 500:
                    raise Retryable(f"HTTP {status}", after=after) from PlatformError(status)
                raise PlatformError(status)

        try:
            await self.retry.call(attempt, what=kind)
        except Retryable as exc:
            raise exc.__cause__ or exc from None

    async def render(self, view: Any) -> str:
        return render(view)

    async def deliver_post(self, message: Any, *, channel: str, thread: MessageRef | None,
                           broadcast: bool) -> tuple[str, str]:
        if self.fail_posts:
            self.fail_posts -= 1
            raise DeliveryError("the channel refused the message")
        await self._platform("post")
        said = Said(id=f"m{next(self._ids)}", channel=channel, text=message, thread=thread.ts if thread else None,
                    broadcast=broadcast)
        self.said.append(said)
        return channel, said.id

    async def deliver_update(self, ref: MessageRef, message: Any) -> None:
        said = next((s for s in self.said if s.id == ref.ts), None)
        if said is None:
            raise DeliveryError(f"no message {ref.ts}")
        await self._platform("update")
        said.edits.append(message)

    async def deliver_notice(self, message: Any, *, channel: str, user: str) -> None:
        self.said.append(Said(id=f"m{next(self._ids)}", channel=channel, text=message, private_to=user))


class MemorySink(ReplySink):
    """Replies in the memory channel: a run followed live, then the shared reply rule (private or public)."""

    def __init__(self, bot: MemoryBot, user: str, clicked: MessageRef | None = None) -> None:
        self.bot, self.user, self.clicked = bot, user, clicked
        self.follower: RunFollower | None = None

    def run_hooks(self) -> RunHooks:
        self.follower = RunFollower(self.bot.conversation, self.bot.channel, interval=self.bot.interval)
        return self.follower.hooks()

    async def interrupted(self) -> None:
        if self.follower is not None:
            await self.follower.interrupted()

    async def deliver(self, reply: Any) -> None:
        if isinstance(reply, RunOutcome) and self.follower is not None:
            await self.follower.finish(reply)
            return
        await deliver_reply(self.bot.conversation, reply, channel=self.bot.channel, user=self.user,
                            clicked=self.clicked)


class MemoryBot:
    """Receives commands as text, the way a transport would: it reads the text into a command and hands
    it to the shared inbound pipeline (dedupe, access, execute, reply)."""

    def __init__(self, chatops: Any, conversation: MemoryConversation, channel: str, *, interval: float = 0.0) -> None:
        self.chatops = chatops
        self.conversation = conversation
        self.channel = channel
        self.interval = interval
        self.tasks = TaskTracker()
        self.pipeline = InboundPipeline(chatops, tasks=self.tasks)

    async def receive(self, text: str, *, user: str, key: str, channel: str | None = None) -> None:
        """`channel`: where it was typed, when not the bot's own channel (a release channel of a service)."""
        await self.pipeline.handle(Inbound(TRANSPORT, user, parse_command(text), key, MemorySink(self, user),
                                           channel=channel or self.channel, text=text))

    async def click(self, command: Any, *, user: str, key: str, on: str | None = None,
                    service: str | None = None) -> None:
        """A button press (bot.conversation.pipeline's clicks) on message `on`, as a transport reads it;
        `service`: the one the button names."""
        said = next((s for s in self.conversation.said if s.id == on), None)
        clicked = MessageRef("", TRANSPORT, "card", said.channel, said.id, None) if said else None
        await self.pipeline.handle(Inbound(TRANSPORT, user, command, key, MemorySink(self, user, clicked),
                                           channel=said.channel if said else self.channel, service=service))
