"""Receiving from Teams: message activities become `bot.chatops` commands, card actions (Action.Execute
invokes and Action.Submit messages) become clicks, and each is handed to the inbound pipeline
(bot.conversation.pipeline: dedupe, access, execute). The sinks here only say how a reply is shown in
Teams: in the turn (retried like every connector call), in the invoke answer, or as a followed run.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from microsoft_agents.activity import Activity, AdaptiveCardInvokeResponse, ChannelAccount, DeliveryModes
from microsoft_agents.hosting.core import TurnContext, TurnState
from microsoft_agents.hosting.core.app.adaptive_card import factory

from bot.chatops.actor import Actor
from bot.chatops.commands import HelpCommand, RunCommand, parse_command
from bot.chatops.replies import CheckConfirmed, Reply, SignoffDecided, SignoffOpened
from bot.chatops.service import ChatOps, RolloutHook, RunHooks
from bot.chatops.sweeper import every
from bot.conversation.follower import RunFollower
from bot.conversation.pipeline import (
    BrokenClick,
    ConfirmClick,
    Inbound,
    InboundPipeline,
    ReplySink,
    RolloutClick,
    SignoffClick,
    failure_line,
)
from bot.conversation.replies import is_private
from bot.conversation.routing import Routed
from bot.conversation.tasks import TaskTracker
from bot.conversation.views import Line
from bot.coordination.locks import LOCK_TTL
from bot.coordination.stopping import stop_task
from bot.runs.service import RunOutcome
from bot.services.desk import Desk
from bot.teams import cards
from bot.teams.cardkit import Card, card_message
from bot.teams.conversation import TeamsConversation
from bot.teams.ids import REASON_INPUT, TRANSPORT, VERB_CONFIRM, VERB_ROLLOUT, VERB_SIGNOFF
from bot.teams.proactive import Proactive
from bot.teams.recovery import recover_interrupted_runs
from bot.teams.references import References, user_id_of
from checks.masking import mask, scrub

log = logging.getLogger("golive.teams")

_MENTION = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_DECISIONS = ("approve", "reject", "withdraw")
_ROLLOUT_ACTIONS = ("rollback", "keep_going")


def command_text(text: str | None) -> str:
    """The command in a Teams message: mentions (`<at>golive</at>`), HTML and an optional leading
    `golive` removed, so `@golive run day1`, `golive run day1` and `run day1` all read `run day1`."""
    plain = html.unescape(_TAG.sub(" ", _MENTION.sub(" ", text or "")))
    words = plain.split()
    if words and words[0].lower().lstrip("/") == "golive":
        words = words[1:]
    return " ".join(words)


def channel_of(activity: Activity) -> str | None:
    """The conversation a release channel is mapped by: a channel thread's id without its `;messageid=…`."""
    conversation = activity.conversation.id if activity.conversation is not None else None
    return conversation.split(";messageid=", 1)[0] if conversation else None


def actor_of(account: ChannelAccount | None) -> Actor:
    return Actor(user_id=user_id_of(account), transport=TRANSPORT)


def expects_replies(activity: Activity) -> bool:
    """`expectReplies` delivery: every reply travels back in the HTTP response, so nothing can be posted
    or updated later (Copilot-style clients and the tests use it)."""
    return activity.delivery_mode == DeliveryModes.expect_replies


def invoke_verb(activity: Activity) -> str:
    value = activity.value if isinstance(activity.value, Mapping) else {}
    action = value.get("action")
    return str(action.get("verb") or "") if isinstance(action, Mapping) else ""


def card_command(verb: str, data: Mapping[str, Any]) -> Any:
    """A card button's data as the click it stands for (or a BrokenClick saying what is missing)."""
    if verb == VERB_SIGNOFF:
        request, role, decision = data.get("request"), data.get("role"), data.get("decision")
        if not (isinstance(request, str) and isinstance(role, str) and decision in _DECISIONS):
            return BrokenClick("this sign-off button is incomplete; post a new card with `golive signoff`")
        reason = data.get(f"{REASON_INPUT}.{role}") or data.get(REASON_INPUT) or ""
        return SignoffClick(request, role, decision, str(reason))
    if verb == VERB_ROLLOUT:
        action, phase = data.get("action"), data.get("phase")
        if action not in _ROLLOUT_ACTIONS or not isinstance(phase, str):
            return BrokenClick("this rollout button is incomplete")
        return RolloutClick(action, phase)
    if verb == VERB_CONFIRM:
        run, check = data.get("run"), data.get("check")
        if not (isinstance(run, str) and isinstance(check, str)):
            return BrokenClick("this confirm button is incomplete")
        return ConfirmClick(run, check)
    return BrokenClick(f"unknown card action {verb!r}")


def with_note(card: Card, note: str) -> Card:
    """`card` with one line under it for the clicker alone (the invoke answer is theirs)."""
    return {**card, "body": [*card.get("body", []), {"type": "TextBlock", "text": note, "wrap": True,
                                                     "color": "warning"}]}


def recorded_not_shown(decision: str, problem: str) -> str:
    done = {"approve": "approval", "reject": "rejection", "withdraw": "withdrawal"}.get(decision, decision)
    return (f"Your {done} is recorded, but the card could not be updated for everyone ({problem}); it shows the "
            "decision at its next update.")


class TurnSink(ReplySink):
    """A reply in the turn of the message that asked (private ones to the asker's 1:1 chat). When the
    channel refuses it even after the retries, the asker is told so privately, with the reply."""

    def __init__(self, bot: TeamsBot, context: TurnContext, *, public: bool = False) -> None:
        self.bot, self.context, self.public = bot, context, public  # public: even a private reply (a welcome)

    async def deliver(self, reply: Any) -> None:
        activity = self.context.activity
        user = user_id_of(activity.from_property)
        conversation = self.bot.conversation
        private_possible = not expects_replies(activity) and activity.conversation is not None
        channel = activity.conversation.id if activity.conversation is not None else ""
        if is_private(reply) and private_possible and not self.public \
                and await conversation.notice(reply, channel=channel, user=user):
            return  # said to the asker alone (expectReplies answers only the asker anyway)
        try:
            await self.bot.send(self.context, reply)
        except Exception as exc:
            problem = conversation.describe(exc)
            log.warning("Teams refused the answer in the channel: %s", problem)
            note = Line(f"I could not post in this channel ({problem}); nothing was posted there. "
                        "Try again in a minute.")
            if not (private_possible and await conversation.notice(note, channel=channel, user=user)):
                raise
            await conversation.notice(reply, channel=channel, user=user)


class RunSink(ReplySink):
    """A run followed in the background by the shared follower; a refusal goes to the asker alone."""

    def __init__(self, bot: TeamsBot, context: TurnContext) -> None:
        self.bot = bot
        activity = context.activity
        self.channel = activity.conversation.id if activity.conversation else ""
        self.user = user_id_of(activity.from_property)
        self.follower = RunFollower(bot.conversation, self.channel, interval=bot.progress_interval)

    def run_hooks(self) -> RunHooks:
        return self.follower.hooks()

    async def interrupted(self) -> None:
        await self.follower.interrupted()

    async def deliver(self, reply: Any) -> None:
        conversation = self.bot.conversation
        if isinstance(reply, RunOutcome):
            await self.follower.finish(reply)
            if self.follower.parent is None:  # the card could not be posted: the verdict, at least
                await conversation.post(self.follower.final_view(reply), channel=self.channel)
        elif not await conversation.notice(reply, channel=self.channel, user=self.user):
            await conversation.post(reply, channel=self.channel)


class InvokeSink(ReplySink):
    """Action.Execute: the answer travels in the invoke response (the clicker's view of the card)."""

    def __init__(self, bot: TeamsBot, context: TurnContext) -> None:
        self.bot, self.context = bot, context
        self.response: AdaptiveCardInvokeResponse | None = None

    async def deliver(self, reply: Any) -> None:
        if isinstance(reply, SignoffDecided):
            card, problem = await self.bot.show_decision(self.context, reply)
            if problem is not None and reply.recorded:
                card = with_note(card, recorded_not_shown(reply.decision, problem))
        elif isinstance(reply, SignoffOpened | CheckConfirmed):
            card = await self.bot.render(reply)
            await self.bot.edit_for_everyone(self.context, card)
        else:
            self.response = factory.message(reply_text(reply))
            return
        self.response = factory.adaptive_card(card)  # type: ignore[arg-type]  # a card dict, typed loosely by the SDK


class SubmitSink(ReplySink):
    """Action.Submit: the card it came from is updated in place when Teams says which one it was."""

    def __init__(self, bot: TeamsBot, context: TurnContext) -> None:
        self.bot, self.context = bot, context

    async def deliver(self, reply: Any) -> None:
        if isinstance(reply, SignoffDecided):
            card, problem = await self.bot.show_decision(self.context, reply)
            if problem is None and self.context.activity.reply_to_id:
                return
            if problem is not None and reply.recorded:
                card = with_note(card, recorded_not_shown(reply.decision, problem))
        else:
            card = await self.bot.render(reply)
        await self.bot.reply(self.context, card_message(card))


class TeamsBot:
    def __init__(self, chatops: ChatOps, references: References, proactive: Proactive, *,
                 rollout_hook: RolloutHook | None = None, progress_interval: float = 1.2,
                 conversation: TeamsConversation | None = None, desk: Desk | None = None) -> None:
        self.chatops = chatops
        self.references = references
        self.proactive = proactive
        self.rollout_hook = rollout_hook
        self.progress_interval = progress_interval
        self.tasks = TaskTracker()
        self.conversation = conversation or TeamsConversation(proactive, references)
        self.pipeline = InboundPipeline(desk or chatops, rollout_hook=lambda: self.rollout_hook, tasks=self.tasks)
        self._sweeper: asyncio.Task[None] | None = None

    # -- every turn ---------------------------------------------------------------------------------------
    async def before_turn(self, context: TurnContext, state: TurnState) -> bool:
        """Keep the conversation's reference (for later proactive posts) and the sender's name fresh."""
        try:
            await self.references.remember(context.activity)
        except Exception as exc:  # a store hiccup must not drop the user's command
            log.warning("could not remember the Teams conversation: %s", mask(str(exc)))
        return True

    def inbound(self, activity: Activity, command: Any, sink: ReplySink, *, text: str | None = None,
                service: Any = None) -> Inbound:
        """An activity as the inbound pipeline takes it; a redelivery repeats its conversation and id. `text`:
        the command as typed; `service`: the one a card's button names."""
        key = f"activity:{activity.conversation.id}:{activity.id}" if activity.id and activity.conversation else ""
        return Inbound(TRANSPORT, user_id_of(activity.from_property), command, key, sink,
                       channel=channel_of(activity), text=text, service=service if isinstance(service, str) else None)

    # -- messages: `golive <command>` ----------------------------------------------------------------------
    async def on_message(self, context: TurnContext, state: TurnState) -> None:
        activity = context.activity
        if activity.value is not None and not (activity.text or "").strip():
            return  # a card submit that is not ours (no golive verb): nothing to say
        text = command_text(activity.text)
        command = parse_command(text)
        routed = self.pipeline.route(self.inbound(activity, command, TurnSink(self, context), text=text))
        if isinstance(routed, Routed) and isinstance(routed.command, RunCommand) and not expects_replies(activity):
            # a phase can take longer than Teams waits for an HTTP answer: the shared follower posts the
            # run's card in this thread once the run exists; a refusal goes to the asker alone
            self.tasks.spawn(self.pipeline.handle(self.inbound(activity, command, RunSink(self, context), text=text)))
            return
        await self.pipeline.handle(self.inbound(activity, command, TurnSink(self, context), text=text))

    async def drain(self) -> None:
        """Wait for background runs (tests)."""
        await self.tasks.drain()

    async def start(self, sweep_interval: float = LOCK_TTL) -> None:
        """Repaint the cards of runs a dead process left behind, now and then periodically."""
        await recover_interrupted_runs(self)
        self._sweeper = asyncio.create_task(every(sweep_interval, lambda: recover_interrupted_runs(self),
                                                  name="Teams recovery sweep", log=log))

    async def stop(self) -> None:
        """Shutdown: interrupt background runs (the store marks them interrupted) rather than wait."""
        await stop_task(self._sweeper)  # repeated cancels: a lost one must not hang the shutdown
        await self.tasks.cancel_all()
        await self.drain()

    # -- card actions ---------------------------------------------------------------------------------
    async def on_execute(self, context: TurnContext, state: TurnState,
                         data: object) -> AdaptiveCardInvokeResponse:
        """Action.Execute: the invoke response carries the updated card for the clicker, and the current
        card is edited through the connector so everyone else sees it too; a refusal or a problem is a
        message for the clicker only, and the card stays as it is."""
        values = data if isinstance(data, Mapping) else {}
        sink = InvokeSink(self, context)
        await self.pipeline.handle(self.inbound(context.activity, card_command(invoke_verb(context.activity), values),
                                                sink, service=values.get("service")))
        return sink.response if sink.response is not None else factory.message("Already handled.")

    async def on_submit(self, context: TurnContext, state: TurnState, data: Any) -> None:
        """Action.Submit (older hosts): a message activity whose value is the button data. The card it came
        from is updated in place when Teams says which one it was."""
        values = data if isinstance(data, Mapping) else {}
        await self.pipeline.handle(self.inbound(context.activity, card_command(str(values.get("verb") or ""), values),
                                                SubmitSink(self, context), service=values.get("service")))

    async def show_decision(self, context: TurnContext, reply: SignoffDecided) -> tuple[Card, str | None]:
        """Repaint the sign-off card for everyone as Slack does: the current card (the one remembered for
        the request), never the clicked one when that is an older, moved card. Returns the card the clicker
        should now see where they clicked, and what went wrong if the current card could not be updated."""
        card = await self.render(reply)
        activity = context.activity
        if expects_replies(activity):
            return card, None
        current = await asyncio.to_thread(self.chatops.store.message, reply.request.id, TRANSPORT, "card")
        if current is not None and current.ts != activity.reply_to_id:
            shown = card
            if activity.reply_to_id:  # clicked on a moved card: it stays a pointer
                shown = await self.render_card(cards.signoff_moved_card, reply.request, reply.stage)
            ok = await self.conversation.update(current, card)
            return shown, None if ok else self.conversation.last_error
        return card, await self.edit_for_everyone(context, card)

    async def edit_for_everyone(self, context: TurnContext, card: Card) -> str | None:
        """Replace the message a card action came from (`replyToId`) for the whole conversation, retried
        like every connector call. What went wrong, or None."""
        activity = context.activity
        if not activity.reply_to_id or expects_replies(activity):
            return None
        try:
            await self.conversation.call("update", lambda: context.update_activity(
                card_message(card, activity_id=activity.reply_to_id)))
        except Exception as exc:
            problem = self.conversation.describe(exc)
            log.warning("could not update the Teams card for everyone: %s", problem)
            return problem
        return None

    # -- membership -------------------------------------------------------------------------------------
    async def on_members_added(self, context: TurnContext, state: TurnState) -> None:
        """Say what the bot does when it is added to a team or chat (the reference is already kept)."""
        bot_id = context.activity.recipient.id if context.activity.recipient else None
        if any(m.id == bot_id for m in context.activity.members_added or []):
            await self.pipeline.handle(self.inbound(context.activity, HelpCommand(),
                                                    TurnSink(self, context, public=True)))

    async def on_error(self, context: TurnContext, error: Exception) -> None:
        """A turn that failed anyway: one honest line (a throttled connector is said as such, never as an
        'internal error'), the detail in the log (masked)."""
        log.error("Teams turn failed: %s: %s", type(error).__name__, mask(str(error)))
        with contextlib.suppress(Exception):
            await context.send_activity(failure_line(error) + ".")

    # -- rendering --------------------------------------------------------------------------------------
    async def render(self, reply: Reply) -> Card:
        return await self.render_card(cards.render, reply)

    async def render_card(self, builder: Callable[..., Card], *args: Any) -> Card:
        """Cards look names up in the store, so they are built off the event loop."""
        return await asyncio.to_thread(builder, *args, self.references.name)

    async def reply(self, context: TurnContext, activity: Activity) -> Any:
        """An in-turn reply, retried like every connector call (a 429 waits its Retry-After)."""
        return await self.conversation.call("reply", lambda: context.send_activity(activity))

    async def send(self, context: TurnContext, reply: Reply) -> None:
        if isinstance(reply, SignoffOpened):
            await self.send_signoff_card(context, reply)
            return
        await self.reply(context, card_message(await self.render(reply)))

    async def send_signoff_card(self, context: TurnContext, reply: SignoffOpened) -> None:
        """Post the card and remember it; a card posted before for the same request becomes a pointer."""
        store = self.chatops.store
        previous = await asyncio.to_thread(store.message, reply.request.id, TRANSPORT, "card") \
            if reply.reopened else None
        response = await self.reply(context, card_message(await self.render(reply)))
        conversation = context.activity.conversation.id if context.activity.conversation else ""
        if response is None or not response.id:
            return
        await asyncio.to_thread(store.remember_message, subject=reply.request.id, transport=TRANSPORT,
                                purpose="card", channel=conversation, ts=response.id)
        if previous is None or previous.ts == response.id:
            return
        reference = await asyncio.to_thread(self.references.reference, previous.channel)
        if reference is None:
            return
        reference.conversation.id = previous.channel  # the old card's own thread
        moved = await self.render_card(cards.signoff_moved_card, reply.request, reply.stage)
        try:
            await self.proactive.update(reference, previous.ts, moved)
        except Exception as exc:
            log.warning("could not point the old sign-off card to the new one: %s", mask(str(exc)))


async def quiet_turn_error(context: TurnContext, error: Exception) -> None:
    """The adapter's turn error handler (background and proactive turns). The SDK's default posts
    `Exception caught : <the exception>` (status, connector URL and all) into the channel; this one logs
    (masked) and says one plain line without internals."""
    log.error("Teams turn failed: %s: %s", type(error).__name__, mask(str(error)))
    with contextlib.suppress(Exception):
        await context.send_activity("golive could not post a message here; it is logged and nothing changed.")


def reply_text(reply: Reply) -> str:
    """The one line an invoke answer shows the clicker for anything that is not an updated card."""
    for attr in ("reason", "message"):
        value = getattr(reply, attr, None)
        if value:
            # our sentence, its foreign parts masked where they entered: only scrubbed, never garbled
            return scrub(f"Not allowed: {value}" if attr == "reason" else str(value))
    return mask(str(reply))
