"""Who may do what, as one declarative table, enforced by one function every transport calls.

Fail closed: an action missing from the table is refused, and a sign-off role nobody is mapped to
(no `members`, no `groups` in the checklist) cannot be signed by anyone. Every refusal is audited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from bot.chatops.actor import Actor
from bot.chatops.commands import declared, declared_rules
from bot.chatops.directory import Directory, StaticDirectory
from bot.signoff.service import stages
from bot.store import Store
from checks.spec import Checklist, Role


class Action(StrEnum):
    HELP = "help"
    STATUS = "status"
    HISTORY = "history"
    RUN = "run"
    SIGNOFF_REQUEST = "signoff.request"
    SIGNOFF_DECIDE = "signoff.decide"
    SIGNOFF_WITHDRAW = "signoff.withdraw"
    ROLLOUT_PROMOTE = "rollout.promote"
    ROLLOUT_ROLLBACK = "rollout.rollback"
    ROLLOUT_KEEP_GOING = "rollout.keep_going"
    CHECK_CONFIRM = "check.confirm"
    CHECK_WAIVE = "check.waive"  # grant or revoke a waiver
    ROLLOUT_FREEZE = "rollout.freeze"  # declare or lift an ad-hoc release freeze
    BREAK_GLASS_ACK = "break_glass.acknowledge"  # acknowledge a CLI action taken without the access table
    HISTORY_PRUNE = "history.prune"  # delete old runs and results (golive prune --yes)


class Who(StrEnum):
    ANYONE = "anyone"
    ROLE_MEMBER = "role_member"  # a member of the sign-off role the action is about
    ANY_ROLE_MEMBER = "any_role_member"  # a member of any sign-off role of the checklist
    DECIDER = "decider"  # the person who made the decision the action is about (withdraw)


@dataclass(frozen=True)
class Rule:
    who: Who
    not_requester: bool = False  # the card's requester is refused when the stage says no_self_approval
    one_role_per_person: bool = False  # refused to whoever already decided another role of the stage


_TABLE: dict[str, Rule] = {
    Action.HELP: Rule(Who.ANYONE),
    Action.STATUS: Rule(Who.ANYONE),
    Action.HISTORY: Rule(Who.ANYONE),
    Action.RUN: Rule(Who.ANYONE),
    Action.SIGNOFF_REQUEST: Rule(Who.ANYONE),
    Action.SIGNOFF_DECIDE: Rule(Who.ROLE_MEMBER, not_requester=True, one_role_per_person=True),
    Action.SIGNOFF_WITHDRAW: Rule(Who.DECIDER),
    Action.ROLLOUT_PROMOTE: Rule(Who.ANY_ROLE_MEMBER),
    Action.ROLLOUT_ROLLBACK: Rule(Who.ANY_ROLE_MEMBER),
    Action.ROLLOUT_KEEP_GOING: Rule(Who.ANY_ROLE_MEMBER),
    Action.CHECK_CONFIRM: Rule(Who.ANY_ROLE_MEMBER),
    Action.CHECK_WAIVE: Rule(Who.ANY_ROLE_MEMBER),
    Action.ROLLOUT_FREEZE: Rule(Who.ANY_ROLE_MEMBER),
    Action.BREAK_GLASS_ACK: Rule(Who.ANY_ROLE_MEMBER),
    Action.HISTORY_PRUNE: Rule(Who.ANY_ROLE_MEMBER),
}
for _action, _who in declared_rules().items():  # a chat verb that brings its own action (bot.chatops.commands)
    if _action in _TABLE:
        raise ValueError(f"the verb action `{_action}` is already in the access table: name it, do not redefine it")
    _TABLE[_action] = Rule(Who(_who))
ACCESS: Mapping[str, Rule] = MappingProxyType(_TABLE)
"""The access table: the rows above, plus the rule each chat verb declares for an action of its own. Read-only
at runtime; change it here or in the verb's declaration, in review."""


def unlisted_verb_actions() -> dict[str, str]:
    """verb → its access action, for chat verbs whose (fixed) action has no row in the table: nobody may use
    them (fail closed); a test keeps this empty."""
    return {verb.name: verb.action for verb in declared()
            if isinstance(verb.action, str) and verb.action not in ACCESS}


@dataclass(frozen=True)
class Target:
    """What the action is about: the audit subject, and for sign-offs the stage, role, the card's requester
    and who decided which role so far (role -> user id)."""

    subject: str = ""
    stage: str | None = None
    role: str | None = None
    requested_by: frozenset[str] = frozenset()
    decided_by: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    reason: str = ""


async def is_member(role: Role, user_id: str, directory: Directory) -> bool:
    if user_id in role.members:
        return True
    for group in role.groups:
        if user_id in await directory.group_members(group):
            return True
    return False


async def authorize(store: Store, checklist: Checklist, actor: Actor, action: str, target: Target = Target(), *,
                    directory: Directory | None = None) -> AccessDecision:
    """The one access check. Refusals are written to the audit log before they are returned."""
    decision = await _decide(checklist, actor, action, target, directory or StaticDirectory())
    if not decision.allowed:
        detail = {"action": str(action), "reason": decision.reason, "transport": actor.transport,
                  "stage": target.stage, "role": target.role}
        await asyncio.to_thread(store.audit, actor=actor.user_id, action="access.denied",
                                subject=target.subject or str(action), detail=detail)
    return decision


async def _decide(checklist: Checklist, actor: Actor, action: str, target: Target,
                  directory: Directory) -> AccessDecision:
    rule = ACCESS.get(action)
    if rule is None:
        return AccessDecision(False, f"`{action}` is not in the access table, so nobody may do it")
    if rule.who is Who.ANYONE:
        return AccessDecision(True)
    all_stages = stages(checklist)
    if rule.who is Who.ANY_ROLE_MEMBER:
        for each_stage in all_stages.values():
            for each_role in each_stage.roles:
                if await is_member(each_role, actor.user_id, directory):
                    return AccessDecision(True)
        return AccessDecision(False, "only people mapped to a sign-off role in the checklist may do this")
    stage = all_stages.get(target.stage or "")
    role = next((r for r in stage.roles if r.id == target.role), None) if stage else None
    if stage is None or role is None:
        return AccessDecision(False, f"unknown sign-off role {target.stage}:{target.role}")
    if rule.who is Who.DECIDER:
        decider = target.decided_by.get(role.id)
        if decider is None:
            return AccessDecision(False, f"{role.title} has no decision to withdraw")
        if decider != actor.user_id:
            return AccessDecision(False, f"only the person who decided for {role.title} can withdraw that "
                                         f"decision; you can withdraw only your own")
        return AccessDecision(True)
    if not role.members and not role.groups:
        return AccessDecision(False, f"nobody is mapped to {role.title} yet: add user ids under "
                                     f"signoffs.{target.stage} role `{role.id}` (members or groups) in the checklist")
    if not await is_member(role, actor.user_id, directory):
        return AccessDecision(False, f"only people mapped to {role.title} may sign off for it")
    if rule.one_role_per_person:
        other = next((r for r in stage.roles if r.id != role.id and target.decided_by.get(r.id) == actor.user_id),
                     None)
        if other is not None:
            return AccessDecision(False, f"you already signed off as {other.title} on this stage; one person fills "
                                         f"at most one role per stage, so someone else must sign as {role.title}")
    if rule.not_requester and actor.user_id in target.requested_by and stage.no_self_approval:
        return AccessDecision(False, f"you asked for this sign-off and the checklist says no_self_approval: "
                                     f"someone else must approve as {role.title}")
    return AccessDecision(True)
