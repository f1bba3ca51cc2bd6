"""`golive --help` imports no command module, `golive <verb>` only the one that owns the verb, and the
light verb table in bot/cli.py agrees with what the modules really register."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from bot import cli


def test_the_verb_table_matches_what_each_module_registers() -> None:
    for verb, (module, help_line) in cli.COMMANDS.items():
        _parser, sub = cli._top_parser()
        importlib.import_module(module).register(sub)
        assert verb in sub.choices, f"{module} no longer registers `{verb}`: update bot.cli.COMMANDS"
        registered_help = next(a.help for a in sub._choices_actions if a.dest == verb)
        assert registered_help == help_line, f"help of `{verb}` differs between {module} and bot.cli.COMMANDS"
    full = cli.build_parser()
    verbs = set(next(a for a in full._actions if isinstance(a, type(full._subparsers._group_actions[0]))).choices)
    assert verbs == set(cli.COMMANDS), "a module registers a verb bot.cli.COMMANDS does not list"


def _modules_loaded_by(argv: list[str]) -> set[str]:
    code = ("import sys, bot.cli\n"
            "try:\n    bot.cli.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('\\n'.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60).stdout
    return set(out.split())


@pytest.mark.parametrize("argv", [["--help"], []])
def test_help_imports_no_command_module_settings_or_check_kinds(argv: list[str]) -> None:
    loaded = _modules_loaded_by(argv)
    heavy = {m for m in loaded if m.startswith(("bot.commands", "bot.settings", "checks.kinds", "slack_", "pydantic",
                                                "httpx", "aiohttp", "sentry_sdk", "psycopg", "redis"))}
    assert not heavy, f"golive {' '.join(argv)} imported {sorted(heavy)[:10]}"


def test_a_verb_imports_only_its_own_command_module() -> None:
    loaded = _modules_loaded_by(["manifest", "--socket"])
    commands = {m for m in loaded if m.startswith("bot.commands.")}
    assert "bot.commands.manifest" in commands
    assert not commands & {"bot.commands.run", "bot.commands.serve", "bot.commands.rollout"}


def test_unknown_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["frobnicate"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
