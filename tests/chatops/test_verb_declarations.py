"""A chat verb is declared once (bot.chatops.commands): the parser, ChatOps' dispatch, the access table,
every transport's help, the `golive` terminal twins and both app manifests all come from the declaration.
The expected verbs here are read from the declarations, never listed by hand, so a transport or manifest
that leaves a verb out fails."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot import cli
from bot.access import ACCESS, unlisted_verb_actions
from bot.chatops.commands import (
    Command,
    FreezeCommand,
    HelpCommand,
    Verb,
    action_of,
    declared,
    parse_command,
    register_verb,
    unregister_verb,
    usage,
)
from bot.chatops.replies import HelpReply, Notice, reply_type
from bot.chatops.service import ChatOps
from bot.slack.manifest import PLACEHOLDER_URL
from bot.slack.manifest import build_manifest as slack_manifest
from bot.slack.render import render as slack_render
from bot.slack.views.help import help_message
from bot.teams.cards import help_card
from bot.teams.cards import render as teams_render
from bot.teams.manifest import build_manifest as teams_manifest
from bot.teams.manifest import render_manifest

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "tests" / "schemas"
TEAMS_APP_ID = "3f1b2c4d-5e6f-4a1b-8c2d-9e0f1a2b3c4d"


def verbs() -> list[str]:
    return [verb.name for verb in declared()]


def words(text: str) -> set[str]:
    return {w.strip("`*_:;,.()[]/|<>") for w in text.split()}


# -- help in every transport --------------------------------------------------------------------------------
def test_slack_help_lists_every_declared_verb() -> None:
    message = help_message(HelpReply(usage=usage()))
    shown = json.dumps(message.payload())
    missing = [v for v in verbs() if f"/golive {v}" not in shown]
    assert not missing, f"the Slack help leaves out {missing}"


def test_teams_help_lists_every_declared_verb() -> None:
    card = json.dumps(help_card(HelpReply(usage=usage())))
    missing = [v for v in verbs() if f"golive {v}" not in card]
    assert not missing, f"the Teams help leaves out {missing}"


async def test_memory_transport_help_lists_every_declared_verb(store) -> None:  # type: ignore[no-untyped-def]
    from bot.conversation.memory import MemoryConversation

    text = await MemoryConversation(store).render(HelpReply(usage=usage()))
    missing = [v for v in verbs() if v not in words(text)]
    assert not missing, f"the memory transport's help leaves out {missing}"


def test_golive_help_lists_every_verb_with_a_terminal_twin(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    shown = words(capsys.readouterr().out)
    twins = [verb.name for verb in declared() if verb.cli]
    assert twins, "no chat verb declares a terminal twin: the check is empty"
    missing = [v for v in twins if v not in shown]
    assert not missing, f"`golive --help` leaves out {missing}"
    for verb in declared():
        if verb.cli:
            assert cli.COMMANDS[verb.name] == (verb.cli, verb.help), f"`golive {verb.name}` is not its declaration"


def test_every_verb_parses_into_its_declared_command_and_chatops_dispatches_it() -> None:
    ops = ChatOps.__new__(ChatOps)
    ChatOps.__init__(ops, store=None, checklist=None)  # type: ignore[arg-type]  # only the dispatch table is read
    for verb in declared():
        assert verb.command is not None, f"`{verb.name}` declares no command type"
        assert verb.command in ops.handlers, f"ChatOps has no handler for `{verb.name}`"
        parsed = {type(parse_command(f"{name} {sample}".strip())) for name in (verb.name, *verb.aliases)
                  for sample in ("", "x", "x 2h a reason")}
        assert verb.command in parsed, f"no form of `{verb.name}` parses into {verb.command.__name__}"


# -- the access table ------------------------------------------------------------------------------------------
def test_every_verb_action_has_a_row_in_the_access_table() -> None:
    assert unlisted_verb_actions() == {}
    for verb in declared():
        for sample in ("", "x", "lift", "override a reason", "2h a reason"):
            command = parse_command(f"{verb.name} {sample}".strip())
            if type(command) is verb.command:
                assert action_of(command) in ACCESS, f"`{verb.name} {sample}` needs {action_of(command)!r}"


def test_action_of_follows_the_declaration_and_fails_closed() -> None:
    assert action_of(parse_command("promote phase-1")) == "rollout.promote"
    assert action_of(parse_command("freeze")) == "status"  # anyone may see the freezes
    assert action_of(parse_command("freeze 2h quarter close")) == "rollout.freeze"
    assert action_of(parse_command("frobnicate")) == "help"

    @dataclass(frozen=True)
    class Undeclared(Command):
        pass

    assert action_of(Undeclared()) == "" and "" not in ACCESS  # refused by bot.access.authorize


def test_a_verb_without_an_action_is_reported_as_unlisted() -> None:
    @dataclass(frozen=True)
    class SnoozeCommand(Command):
        pass

    register_verb(Verb("snooze-test", "", "hold", lambda a: SnoozeCommand(), command=SnoozeCommand))
    try:
        assert unlisted_verb_actions() == {"snooze-test": ""}
        assert action_of(SnoozeCommand()) == ""
    finally:
        unregister_verb("snooze-test")
    assert unlisted_verb_actions() == {}


# -- both manifests ----------------------------------------------------------------------------------------------
def test_the_slack_usage_hint_names_every_verb_and_passes_slacks_schema() -> None:
    manifest = slack_manifest(PLACEHOLDER_URL)
    jsonschema.Draft7Validator(json.loads((SCHEMAS / "slack-manifest" / "manifest.schema.1.0.0.json").read_text())
                               ).validate(manifest)
    [command] = manifest["features"]["slash_commands"]
    hint = [part.split()[0] for part in command["usage_hint"].split(" | ") if part.split()]
    missing = [v for v in verbs() if v not in hint]
    assert not missing, f"the Slack usage hint leaves out {missing}"
    committed = yaml.safe_load((REPO / "manifest.yml").read_text())
    assert committed["features"]["slash_commands"][0]["usage_hint"] == command["usage_hint"]


def teams_schema() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(json.loads((SCHEMAS / "teams-manifest" / "MicrosoftTeams.schema.1.17.json")
                                                 .read_text()))


def test_the_teams_menu_is_the_declared_menu_and_passes_teams_schema() -> None:
    manifest = teams_manifest(TEAMS_APP_ID, "https://golive.acme.io")
    teams_schema().validate(manifest)
    teams_schema().validate(json.loads((REPO / "teams" / "manifest.json").read_text()))
    [commands] = manifest["bots"][0]["commandLists"]
    titles = [c["title"] for c in commands["commands"]]
    assert titles == [verb.name for verb in declared() if verb.menu]
    assert len(titles) <= 10, "Teams shows at most ten commands: mark fewer verbs `menu`"
    assert "help" in titles
    assert (REPO / "teams" / "manifest.json").read_text() == render_manifest(teams_manifest())


def test_the_teams_schema_copy_refuses_eleven_commands() -> None:
    manifest = teams_manifest(TEAMS_APP_ID, "https://golive.acme.io")
    commands = manifest["bots"][0]["commandLists"][0]["commands"]
    commands.extend({"title": f"extra{i}", "description": "x"} for i in range(11 - len(commands)))
    with pytest.raises(jsonschema.ValidationError):
        teams_schema().validate(manifest)


# -- replies -----------------------------------------------------------------------------------------------------
def test_every_declared_reply_type_has_a_renderer_in_slack_and_teams() -> None:
    for verb in declared():
        assert verb.replies, f"`{verb.name}` declares no reply type"
        for name in verb.replies:
            kind = reply_type(name)
            assert slack_render.dispatch(kind) is not slack_render.dispatch(object), f"Slack cannot show {name}"
            assert teams_render.dispatch(kind) is not teams_render.dispatch(object), f"Teams cannot show {name}"


def test_a_new_plain_reply_type_renders_everywhere_without_a_renderer() -> None:
    @dataclass
    class Snoozed(Notice):
        until: str = ""

    reply = Snoozed("alerts snoozed until 18:00", until="18:00")
    assert "alerts snoozed until 18:00" in json.dumps(slack_render(reply).payload())
    assert "alerts snoozed until 18:00" in json.dumps(teams_render(reply))
    from bot.conversation.memory import render as memory_render
    from bot.conversation.replies import is_private

    assert "alerts snoozed until 18:00" in memory_render(reply)
    assert is_private(reply)

    @dataclass
    class Plain:
        message: str

    assert "said plainly" in json.dumps(slack_render(Plain("said plainly")).payload())
    assert isinstance(parse_command("help"), HelpCommand) and isinstance(FreezeCommand(), Command)
