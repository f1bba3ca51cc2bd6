"""Command text → command objects, the same for every transport; anything else → help."""

from __future__ import annotations

import pytest

from bot.chatops.commands import (
    VERBS,
    Command,
    HelpCommand,
    HistoryCommand,
    RunCommand,
    SignoffCommand,
    StatusCommand,
    Verb,
    parse_command,
    register_verb,
    usage,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("status", StatusCommand()),
    ("  STATUS ", StatusCommand()),
    ("run day1", RunCommand("day1")),
    ("run redis.ping", RunCommand("redis.ping")),
    ("run smoke.*", RunCommand("smoke.*")),
    ("signoff pre", SignoffCommand("pre")),
    ("sign-off POST", SignoffCommand("post")),
    ("history", HistoryCommand()),
    ("history 5", HistoryCommand(5)),
    ("help", HelpCommand()),
    ("", HelpCommand()),
])
def test_known_commands(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", ["deploy", "run a b", "signoff", "history lots", "history 500",
                                  "status now", "rm -rf /"])
def test_anything_else_is_help(text: str) -> None:
    command = parse_command(text)
    assert isinstance(command, HelpCommand)
    assert command.unknown


def test_usage_lists_each_verb_once() -> None:
    verbs = [u[0].split()[0] for u in usage()]
    assert len(verbs) == len(set(verbs)), "an alias or a verb is listed twice"
    assert set(verbs) == {v.name for v in VERBS.values()}, "a declared verb is missing from the help"
    assert "sign-off" not in verbs and parse_command("sign-off pre") == parse_command("signoff pre")


def test_other_areas_can_add_verbs() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class SnoozeCommand(Command):
        until: str

    try:
        register_verb(Verb("snooze", "<until>", "hold the alerts", lambda a: SnoozeCommand(a[0])))
        assert parse_command("snooze friday") == SnoozeCommand("friday")
    finally:
        VERBS.pop("snooze", None)


def test_run_alone_runs_every_phase_as_in_a_terminal() -> None:
    assert parse_command("run") == RunCommand(selector="all")
