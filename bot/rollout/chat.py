"""The handlers of `promote <phase>`, `rollback [reason]` and `resume`, for every transport at once.

The shared parser knows the verbs; these handlers check the access table, then call the rollout
service, whose notifier announces the change in the release channel (Slack, Teams or both).
"""

from __future__ import annotations

from bot.access import Action, Target
from bot.chatops.actor import Actor
from bot.chatops.commands import PromoteCommand, ResumeCommand, RollbackCommand
from bot.chatops.replies import Denied, Failed, Reply
from bot.chatops.service import ChatOps, RunHooks
from bot.rollout.models import RolloutResult
from bot.rollout.service import RolloutService


def install(chatops: ChatOps, service: RolloutService) -> None:
    """Give ChatOps the rollout handlers (without them, ChatOps says the checklist has no rollout plan)."""
    chatops.notifier = service.notifier  # waivers witness the audit head in the same release channel(s)

    async def promote(command: PromoteCommand, actor: Actor, hooks: RunHooks) -> Reply | RolloutResult:
        decision = await chatops.allowed(actor, Action.ROLLOUT_PROMOTE, Target(subject=command.phase))
        if not decision.allowed:
            return Denied(str(Action.ROLLOUT_PROMOTE), decision.reason)
        try:
            return await service.promote(command.phase, actor=actor.user_id)
        except LookupError as exc:
            return Failed(str(exc).strip("'\""))

    async def rollback(command: RollbackCommand, actor: Actor, hooks: RunHooks) -> Reply | RolloutResult:
        current = await service.current_phase()
        decision = await chatops.allowed(actor, Action.ROLLOUT_ROLLBACK, Target(subject=current or ""))
        if not decision.allowed:
            return Denied(str(Action.ROLLOUT_ROLLBACK), decision.reason)
        return await service.rollback(actor=actor.user_id, reason=command.reason)

    async def resume(command: ResumeCommand, actor: Actor, hooks: RunHooks) -> Reply | RolloutResult:
        current = await service.current_phase()
        decision = await chatops.allowed(actor, Action.ROLLOUT_KEEP_GOING, Target(subject=current or ""))
        if not decision.allowed:
            return Denied(str(Action.ROLLOUT_KEEP_GOING), decision.reason)
        return await service.resume(actor=actor.user_id)

    chatops.register_handler(ResumeCommand, resume)  # type: ignore[arg-type]  # handlers take their own command type
    chatops.register_handler(PromoteCommand, promote)  # type: ignore[arg-type]  # handlers take their own command type
    chatops.register_handler(RollbackCommand, rollback)  # type: ignore[arg-type]  # handlers take their own command type
