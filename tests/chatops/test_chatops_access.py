"""The access table, enforced by one function: fail closed, role membership from members and groups,
distinct people per stage, no self-approval when asked for, withdraw only your own, every refusal audited."""

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
    from bot.chatops.commands import declared_rules

    assert set(ACCESS) == set(Action) | set(declared_rules()), "a row nobody can name, or an action with no row"
    assert all(ACCESS[action].who.value == who for action, who in declared_rules().items())
    assert ACCESS[Action.STATUS].who is Who.ANYONE and ACCESS[Action.RUN].who is Who.ANYONE
    assert ACCESS[Action.SIGNOFF_DECIDE].who is Who.ROLE_MEMBER and ACCESS[Action.SIGNOFF_DECIDE].not_requester
    assert ACCESS[Action.SIGNOFF_DECIDE].one_role_per_person and ACCESS[Action.SIGNOFF_WITHDRAW].who is Who.DECIDER


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


async def test_requesting_the_card_disqualifies_only_when_the_stage_says_no_self_approval(store, checklist) -> None:
    mine = await authorize(store, checklist, who("U0TECH"), Action.SIGNOFF_DECIDE,
                           decide_target("tech_lead", "U0TECH"), directory=SLACK)
    assert mine.allowed  # asking for the card (or running the checks) is no reason to be refused
    checklist.signoffs["pre"].no_self_approval = True
    refused = await authorize(store, checklist, who("U0TECH"), Action.SIGNOFF_DECIDE,
                              decide_target("tech_lead", "U0TECH"), directory=SLACK)
    assert not refused.allowed and "no_self_approval" in refused.reason


async def test_one_person_fills_at_most_one_role_per_stage(store, checklist) -> None:
    checklist.signoffs["pre"].roles[1].members.append("U0TECH")  # U0TECH is also a DevOps Lead
    target = Target(subject="req1", stage="pre", role="devops_lead", decided_by={"tech_lead": "U0TECH"})
    second = await authorize(store, checklist, who("U0TECH"), Action.SIGNOFF_DECIDE, target, directory=SLACK)
    assert not second.allowed and "one person fills at most one role per stage" in second.reason
    assert (await authorize(store, checklist, who("U0DEVOPS"), Action.SIGNOFF_DECIDE, target, directory=SLACK)).allowed


async def test_withdraw_only_your_own_decision(store, checklist) -> None:
    target = Target(subject="req1", stage="pre", role="tech_lead", decided_by={"tech_lead": "U0TECH"})
    assert (await authorize(store, checklist, who("U0TECH"), Action.SIGNOFF_WITHDRAW, target)).allowed
    forged = await authorize(store, checklist, who("U0DEVOPS"), Action.SIGNOFF_WITHDRAW, target, directory=SLACK)
    assert not forged.allowed and "only your own" in forged.reason
    assert store.audit_log(action="access.denied")[0]["actor"] == "U0DEVOPS"


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


def test_the_gate_counts_one_role_per_person_even_in_old_rows(store, checklist) -> None:
    """Rows written before the rule (one person approved two roles) count once: the other role is missing."""
    from bot.signoff.service import SignoffService

    service = SignoffService(store, checklist)
    request = service.open_request("pre", requested_by="U0REQ")
    for role in ("tech_lead", "devops_lead"):
        store.db.execute("INSERT INTO signoffs (request_id, role, decision, user_id, reason, decided_at) "
                         "VALUES (:r, :role, 'approve', 'U0TECH', '', :at)",
                         {"r": request.id, "role": role, "at": f"2026-01-01T00:00:0{len(role) % 9}+00:00"})
    state = service.state(["pre"])
    assert list(state.approved.values()) == ["U0TECH"]


def test_simultaneous_clicks_for_two_roles_by_one_person_record_one_on_postgres(checklist, pg_schema: str) -> None:
    """The rule holds in the store too (row lock on the request): no race lets one person take two roles."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.signoff.service import OneRolePerPerson, SignoffService
    from bot.store import open_store
    from tests.conftest import PG_URL

    store = open_store(PG_URL, schema=pg_schema)
    try:
        service = SignoffService(store, checklist)
        for attempt in range(5):
            request = service.open_request("pre", requested_by=f"U0REQ{attempt}")

            def click(role: str, request_id: str = request.id) -> str:
                try:
                    return "recorded" if service.record(request_id, role, "approve", user_id="U0TECH") else "dup"
                except OneRolePerPerson:
                    return "refused"

            with ThreadPoolExecutor(3) as pool:
                outcomes = list(pool.map(click, ["tech_lead", "devops_lead", "product_owner"]))
            assert sorted(outcomes) == ["recorded", "refused", "refused"], outcomes
    finally:
        store.close()
