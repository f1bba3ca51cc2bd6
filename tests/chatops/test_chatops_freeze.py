"""`freeze` from chat (the same verbs for Slack and Teams): declare, show, an override refused for a person
outside `freeze.override_roles` and signed by one inside it, lift; every step audited."""

from __future__ import annotations

from bot.chatops.actor import Actor
from bot.chatops.commands import FreezeCommand, HelpCommand, parse_command
from bot.chatops.replies import Denied, Failed, Notice
from bot.chatops.service import ChatOps
from bot.policy.freeze import freeze_reasons
from bot.store import Store
from checks.spec import Checklist, Freeze


def test_freeze_verbs_parse() -> None:
    assert parse_command("freeze") == FreezeCommand()
    assert parse_command("freeze 2h quarter close") == FreezeCommand("declare", "2h", "quarter close")
    assert parse_command("freeze lift") == FreezeCommand("lift")
    assert parse_command("freeze override security fix") == FreezeCommand("override", reason="security fix")
    assert isinstance(parse_command("freeze override"), HelpCommand)


async def test_freeze_declare_override_lift_from_chat(checklist: Checklist, store: Store) -> None:
    checklist.freeze = Freeze(override_roles=["tech_lead"])
    chatops = ChatOps(store, checklist)
    tech, stranger = Actor("U0TECH", "slack"), Actor("U0STRANGER", "teams")
    assert isinstance(await chatops.execute(parse_command("freeze 2h payday"), stranger), Denied)
    declared = await chatops.execute(parse_command("freeze 2h payday traffic"), tech)
    assert isinstance(declared, Notice) and "payday traffic" in declared.message
    assert freeze_reasons(store, checklist) and "payday traffic" in freeze_reasons(store, checklist)[0]
    shown = await chatops.execute(parse_command("freeze"), stranger)
    assert isinstance(shown, Notice) and "release freeze declared by U0TECH" in shown.message
    refused = await chatops.execute(parse_command("freeze override hotfix"), stranger)
    assert isinstance(refused, Failed) and "override roles (tech_lead)" in refused.message
    signed = await chatops.execute(parse_command("freeze override hotfix for login"), tech)
    assert isinstance(signed, Notice) and freeze_reasons(store, checklist) == []
    assert "(overridden)" in (await chatops.execute(parse_command("freeze"), tech)).message  # type: ignore[union-attr]
    assert isinstance(await chatops.execute(parse_command("freeze lift"), tech), Notice)
    assert isinstance(await chatops.execute(parse_command("freeze lift"), tech), Failed)  # nothing left to lift
    actions = [row["action"] for row in store.audit_log(limit=30)]
    assert {"freeze.declared", "freeze.overridden", "freeze.override_refused", "freeze.lifted",
            "access.denied"} <= set(actions)
