"""Receiving from Teams: message activities become `bot.chatops` commands, card actions (Action.Execute
invokes and Action.Submit messages) become sign-off decisions or rollout button presses, and the replies
go back as Adaptive Cards. Parsing, execution and access control are ChatOps'; nothing is decided here.
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
from bot.chatops.replies import CheckConfirmed, Failed, Reply, SignoffDecided, SignoffOpened
from bot.chatops.service import ChatOps, RolloutHook
from bot.chatops.sweeper import every
from bot.conversation.dedupe import first_delivery
from bot.conversation.follower import RunFollower
from bot.conversation.replies import is_private
from bot.conversation.tasks import TaskTracker
from bot.locks import LOCK_TTL
from bot.runs.service import RunOutcome
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


class TeamsBot:
    def __init__(self, chatops: ChatOps, references: References, proactive: Proactive, *,
                 rollout_hook: RolloutHook | None = None, progress_interval: float = 1.2,
                 conversation: TeamsConversation | None = None) -> None:
        self.chatops = chatops
        self.references = references
        self.proactive = proactive
        self.rollout_hook = rollout_hook
        self.progress_interval = progress_interval
        self.tasks = TaskTracker()
        self.conversation = conversation or TeamsConversation(proactive, references)
        self._sweeper: asyncio.Task[None] | None = None

    # -- every turn ---------------------------------------------------------------------------------------
    async def before_turn(self, context: TurnContext, state: TurnState) -> bool:
        """Keep the conversation's reference (for later proactive posts) and the sender's name fresh."""
        try:
            await self.references.remember(context.activity)
        except Exception as exc:  # a store hiccup must not drop the user's command
            log.warning("could not remember the Teams conversation: %s", mask(str(exc)))
        return True

    async def first_delivery(self, activity: Activity) -> bool:
        """False for a redelivery of an activity already handled (Teams retries slow requests)."""
        if not activity.id or activity.conversation is None:
            return True
        return await first_delivery(self.chatops.locks, TRANSPORT, f"activity:{activity.conversation.id}:{activity.id}")

    # -- messages: `golive <command>` ----------------------------------------------------------------------
    async def on_message(self, context: TurnContext, state: TurnState) -> None:
        activity = context.activity
        if activity.value is not None and not (activity.text or "").strip():
            return  # a card submit that is not ours (no golive verb): nothing to say
        if not await self.first_delivery(activity):
            return
        command = parse_command(command_text(activity.text))
        actor = actor_of(activity.from_property)
        if isinstance(command, RunCommand) and not expects_replies(activity):
            await self.start_run(context, command, actor)
            return
        reply = await self.chatops.execute(command, actor)
        if is_private(reply) and not expects_replies(activity) and activity.conversation is not None \
                and await self.conversation.notice(reply, channel=activity.conversation.id, user=actor.user_id):
            return  # said to the asker alone (expectReplies answers only the asker anyway)
        await self.send(context, reply)

    async def start_run(self, context: TurnContext, command: RunCommand, actor: Actor) -> None:
        """Run in the background (a phase can take longer than Teams waits for an HTTP answer): the shared
        follower posts the run's card in this thread once the run exists and updates it as checks finish;
        a refusal (unknown phase, already running) goes to the asker alone."""
        conversation = context.activity.conversation.id if context.activity.conversation else ""
        self.tasks.spawn(self.follow_run(context, conversation, command, actor))

    async def follow_run(self, context: TurnContext, conversation: str, command: RunCommand, actor: Actor) -> None:
        follower = RunFollower(self.conversation, conversation, interval=self.progress_interval)
        try:
            reply = await self.chatops.run(actor, command.selector, follower.hooks())
            if isinstance(reply, RunOutcome):
                await follower.finish(reply)
                if follower.parent is None:  # the card could not be posted: the verdict, at least
                    await self.conversation.post(follower.final_view(reply), channel=conversation)
            elif not await self.conversation.notice(reply, channel=conversation, user=actor.user_id):
                await self.conversation.post(reply, channel=conversation)
        except asyncio.CancelledError:
            await follower.interrupted()
            raise
        except Exception as exc:
            log.error("Teams run of %s failed: %s", command.selector, mask(f"{type(exc).__name__}: {exc}"))

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
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.tasks.cancel_all()
        await self.drain()

    # -- card actions ---------------------------------------------------------------------------------
    async def on_execute(self, context: TurnContext, state: TurnState,
                         data: object) -> AdaptiveCardInvokeResponse:
        """Action.Execute: the invoke response carries the updated card for the clicker, and the message
        itself is edited through the connector so everyone else sees it too; a refusal or a problem is a
        message for the clicker only, and the card stays as it is."""
        if not await self.first_delivery(context.activity):
            return factory.message("Already handled.")
        values = data if isinstance(data, Mapping) else {}
        reply = await self.card_action(context.activity, invoke_verb(context.activity), values)
        if isinstance(reply, SignoffDecided | SignoffOpened | CheckConfirmed):
            card = await self.render(reply)
            await self.edit_for_everyone(context, card)
            return factory.adaptive_card(card)  # type: ignore[arg-type]  # a card dict, typed loosely by the SDK
        return factory.message(reply_text(reply))

    async def edit_for_everyone(self, context: TurnContext, card: Card) -> bool:
        """Replace the message a card action came from (`replyToId`) for the whole conversation. The
        decision is already recorded, so a failed edit is logged (masked) and the clicker still gets the
        new card; the next update of that message repaints it."""
        activity = context.activity
        if not activity.reply_to_id or expects_replies(activity):
            return False
        try:
            await context.update_activity(card_message(card, activity_id=activity.reply_to_id))
        except Exception as exc:
            log.warning("could not update the Teams card for everyone: %s: %s", type(exc).__name__,
                        mask(str(exc)))
            return False
        return True

    async def on_submit(self, context: TurnContext, state: TurnState, data: Any) -> None:
        """Action.Submit (older hosts): a message activity whose value is the button data. The card it came
        from is updated in place when Teams says which one it was."""
        activity = context.activity
        if not await self.first_delivery(activity):
            return
        values = data if isinstance(data, Mapping) else {}
        reply = await self.card_action(activity, str(values.get("verb") or ""), values)
        card = await self.render(reply)
        if isinstance(reply, SignoffDecided) and await self.edit_for_everyone(context, card):
            return
        await context.send_activity(card_message(card))

    async def card_action(self, activity: Activity, verb: str, data: Mapping[str, Any]) -> Reply:
        actor = actor_of(activity.from_property)
        if verb == VERB_SIGNOFF:
            request, role, decision = data.get("request"), data.get("role"), data.get("decision")
            if not (isinstance(request, str) and isinstance(role, str) and decision in _DECISIONS):
                return Failed("this sign-off button is incomplete; post a new card with `golive signoff`")
            reason = data.get(f"{REASON_INPUT}.{role}") or data.get(REASON_INPUT) or ""
            return await self.chatops.decide_signoff(actor, request, role, decision, str(reason))
        if verb == VERB_ROLLOUT:
            action, phase = data.get("action"), data.get("phase")
            if action not in _ROLLOUT_ACTIONS or not isinstance(phase, str):
                return Failed("this rollout button is incomplete")
            return await self.chatops.rollout_action(actor, action, phase, self.rollout_hook)
        if verb == VERB_CONFIRM:
            run, check = data.get("run"), data.get("check")
            if not (isinstance(run, str) and isinstance(check, str)):
                return Failed("this confirm button is incomplete")
            return await self.chatops.confirm_check(actor, run, check)
        return Failed(f"unknown card action {verb!r}")

    # -- membership -------------------------------------------------------------------------------------
    async def on_members_added(self, context: TurnContext, state: TurnState) -> None:
        """Say what the bot does when it is added to a team or chat (the reference is already kept)."""
        bot_id = context.activity.recipient.id if context.activity.recipient else None
        if any(m.id == bot_id for m in context.activity.members_added or []):
            actor = actor_of(context.activity.from_property)
            await self.send(context, await self.chatops.execute(HelpCommand(), actor))

    async def on_error(self, context: TurnContext, error: Exception) -> None:
        log.error("Teams turn failed: %s: %s", type(error).__name__, mask(str(error)))
        with contextlib.suppress(Exception):
            await context.send_activity(f"golive hit an internal error ({type(error).__name__}); it is logged.")

    # -- rendering --------------------------------------------------------------------------------------
    async def render(self, reply: Reply) -> Card:
        return await self.render_card(cards.render, reply)

    async def render_card(self, builder: Callable[..., Card], *args: Any) -> Card:
        """Cards look names up in the store, so they are built off the event loop."""
        return await asyncio.to_thread(builder, *args, self.references.name)

    async def send(self, context: TurnContext, reply: Reply) -> None:
        if isinstance(reply, SignoffOpened):
            await self.send_signoff_card(context, reply)
            return
        await context.send_activity(card_message(await self.render(reply)))

    async def send_signoff_card(self, context: TurnContext, reply: SignoffOpened) -> None:
        """Post the card and remember it; a card posted before for the same request becomes a pointer."""
        store = self.chatops.store
        previous = await asyncio.to_thread(store.message, reply.request.id, TRANSPORT, "card") \
            if reply.reopened else None
        response = await context.send_activity(card_message(await self.render(reply)))
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
