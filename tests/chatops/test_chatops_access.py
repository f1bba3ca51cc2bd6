"""The access table, enforced by one function: fail closed, role membership from members and groups,
no signing off your own request, and every refusal in the audit log."""

from __future__ import annotations

from bot.access import ACCESS, Action, Target, Who, authorize
from bot.chatops.actor import Actor
from bot.chatops.directory import StaticDirectory

SLACK = StaticDirectory({"S0DEVOPS": {"U0DEVOPS"}})


def who(user: str) -> Actor:
    return Actor(user, "slack")


def decide_target(role: str, *requesters: str) -> Target:
    return Target(subject="req1", stage="pre", role=role, requested_by=frozenset(requesters))


async def test_table_covers_every_action_and_reads_only_are_open() -> None:
    assert set(ACCESS) == set(Action)
    assert ACCESS[Action.STATUS].who is Who.ANYONE and ACCESS[Action.RUN].who is Who.ANYONE
    assert ACCESS[Action.SIGNOFF_DECIDE].who is Who.ROLE_MEMBER and ACCESS[Action.SIGNOFF_DECIDE].not_requester


async def test_role_membership_by_member_and_by_group(store, checklist) -> None:
    tech = await authorize(store, checklist, who("U0TECH"), Action.SIGNOFF_DECIDE, decide_target("tech_lead"),
                           directory=SLACK)
    devops = await authorize(store, checklist, who("U0DEVOPS"), Action.SIGNOFF_DECIDE, decide_target("devops_lead"),
                             directory=SLACK)
    wrong_role = await authorize(store, checklist, who("U0TECH"), Action.SIGNOFF_DECIDE,
                                 decide_target("devops_lead"), directory=SLACK)
    no_directory = await authorize(store, checklist, who("U0DEVOPS"), Action.SIGNOFF_DECIDE,
                                   decide_target("devops_lead"))
    assert (tech.allowed, devops.allowed, wrong_role.allowed, no_directory.allowed) == (True, True, False, False)
    assert "DevOps Lead" in wrong_role.reason
    denied = store.audit_log(action="access.denied")
    assert len(denied) == 2 and {d["actor"] for d in denied} == {"U0TECH", "U0DEVOPS"}


async def test_requester_refused_unless_the_stage_allows_it(store, checklist) -> None:
    mine = await authorize(store, checklist, who("U0TECH"), Action.SIGNOFF_DECIDE,
                           decide_target("tech_lead", "U0TECH"), directory=SLACK)
    assert not mine.allowed and "you requested" in mine.reason
    checklist.signoffs["pre"].allow_self_signoff = True
    assert (await authorize(store, checklist, who("U0TECH"), Action.SIGNOFF_DECIDE,
                            decide_target("tech_lead", "U0TECH"), directory=SLACK)).allowed


async def test_fail_closed(store, checklist) -> None:
    from bot.signoff.service import DEFAULT_STAGES

    unknown_action = await authorize(store, checklist, who("U0TECH"), "flags.delete_all")
    unknown_role = await authorize(store, checklist, who("U0TECH"), Action.SIGNOFF_DECIDE, decide_target("ceo"))
    checklist.signoffs = dict(DEFAULT_STAGES)  # the bundled defaults map nobody to any role
    unmapped = await authorize(store, checklist, who("U0TECH"), Action.SIGNOFF_DECIDE, decide_target("tech_lead"))
    assert not unknown_action.allowed and not unknown_role.allowed and not unmapped.allowed
    assert "nobody is mapped to Tech Lead" in unmapped.reason and "members or groups" in unmapped.reason
    assert len(store.audit_log(action="access.denied")) == 3


async def test_rollout_actions_need_some_role(store, checklist) -> None:
    assert (await authorize(store, checklist, who("U0DEVOPS"), Action.ROLLOUT_ROLLBACK, directory=SLACK)).allowed
    assert not (await authorize(store, checklist, who("U0RANDOM"), Action.ROLLOUT_PROMOTE, directory=SLACK)).allowed
