"""`promote <phase>` and `rollback [reason]` as chat commands, for every transport at once.

The verbs join ChatOps' table; the handlers check the access table, then call the rollout service,
whose notifier announces the change in the release channel (Slack, Teams or both).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.access import Action, Target
from bot.chatops.actor import Actor
from bot.chatops.commands import Command, HelpCommand, Verb, register_verb
from bot.chatops.replies import Denied, Failed, Reply
from bot.chatops.service import ChatOps, RunHooks
from bot.rollout.models import RolloutResult
from bot.rollout.service import RolloutService


@dataclass(frozen=True)
class PromoteCommand(Command):
    phase: str


@dataclass(frozen=True)
class RollbackCommand(Command):
    reason: str = ""


def _promote(args: list[str]) -> Command:
    if len(args) != 1:
        return HelpCommand(unknown=" ".join(["promote", *args]),
                           problem="`promote` takes one rollout phase, e.g. `promote phase-2`")
    return PromoteCommand(phase=args[0])


register_verb(Verb("promote", "<phase>", "turn on the next rollout phase's flags when the gate holds; starts "
                   "the watch", _promote))
register_verb(Verb("rollback", "[reason]", "turn the current phase's flags back off and announce it",
                   lambda args: RollbackCommand(reason=" ".join(args))))


def install(chatops: ChatOps, service: RolloutService | None) -> None:
    """Give ChatOps the rollout handlers; without a rollout plan they say how to add one."""

    async def promote(command: PromoteCommand, actor: Actor, hooks: RunHooks) -> Reply | RolloutResult:
        if service is None:
            return _not_configured(chatops)
        decision = await chatops.allowed(actor, Action.ROLLOUT_PROMOTE, Target(subject=command.phase))
        if not decision.allowed:
            return Denied(str(Action.ROLLOUT_PROMOTE), decision.reason)
        try:
            return await service.promote(command.phase, actor=actor.user_id)
        except LookupError as exc:
            return Failed(str(exc).strip("'\""))

    async def rollback(command: RollbackCommand, actor: Actor, hooks: RunHooks) -> Reply | RolloutResult:
        if service is None:
            return _not_configured(chatops)
        current = await service.current_phase()
        decision = await chatops.allowed(actor, Action.ROLLOUT_ROLLBACK, Target(subject=current or ""))
        if not decision.allowed:
            return Denied(str(Action.ROLLOUT_ROLLBACK), decision.reason)
        return await service.rollback(actor=actor.user_id, reason=command.reason)

    chatops.register_handler(PromoteCommand, promote)  # type: ignore[arg-type]
    chatops.register_handler(RollbackCommand, rollback)  # type: ignore[arg-type]


def _not_configured(chatops: ChatOps) -> Reply:
    return Failed(f"{chatops.checklist.name} has no `rollout:` section (phases and their flags); "
                  "add one to the checklist to promote or roll back")
