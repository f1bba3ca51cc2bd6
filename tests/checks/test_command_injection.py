"""A `${VAR}` value from the target's settings never runs as code and never splits into more arguments,
with or without `shell: true` (issue 11 item 6)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from checks.argv import command_argv, shell_command
from checks.loader import parse_checklist
from checks.result import CheckResult, Status
from checks.runner import Runner

ARGV_PRINTER = f"{sys.executable} -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"


def payloads(box: Path) -> dict[str, str]:
    """The hostile values, each trying to create its own file under `box`."""
    return {
        "P_SEMI": f"x; touch {box}/semi",
        "P_SUBST": f"$(touch {box}/subst)",
        "P_TICK": f"`touch {box}/tick`",
        "P_SPLIT": "a b c",
        "P_NEWLINE": f"one\ntouch {box}/newline",
        "P_QUOTE": f"it's \"quoted\"; touch {box}/quote",
    }


def dotenv_text(values: dict[str, str]) -> str:
    """Single quotes keep a value literal; the newline one uses double quotes and `\\n`."""
    lines = []
    for name, value in values.items():
        if "\n" in value:
            lines.append(f'{name}="' + value.replace("\n", "\\n") + '"')
        else:
            lines.append(f"{name}='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'")
    return "\n".join(lines) + "\n"


async def run_checks(repo: Path, settings: str, checks: list[str]) -> list[CheckResult]:
    body = "".join(f"      - {c}\n" for c in checks)
    text = f"name: t\nsettings: {settings}\nphases:\n  - id: p\n    checks:\n{body}"
    (repo / "golive.yml").write_text(text)
    checklist = parse_checklist(text, str(repo / "golive.yml"))
    report = await Runner(checklist).run(checklist.all_checks())
    return report.results


def argv_of(result: CheckResult) -> list[str]:
    return json.loads(result.evidence["output_tail"].splitlines()[-1])


CHECKS = [
    # argv (no shell): every value is exactly one argument
    f'{{id: argv, kind: command, params: {{command: "{ARGV_PRINTER} ${{P_SEMI}} ${{P_SUBST}} ${{P_TICK}} '
    f'${{P_SPLIT}} ${{P_NEWLINE}} ${{P_QUOTE}} --split=${{P_SPLIT}}"}}}}',
    # shell: unquoted, double-quoted and single-quoted places
    f'{{id: shell, kind: command, params: {{shell: true, command: "{ARGV_PRINTER} ${{P_SEMI}} ${{P_SUBST}} '
    f'\\"${{P_TICK}}\\" \'${{P_SPLIT}}\' ${{P_NEWLINE}} \\"${{P_QUOTE}}\\" && echo ${{P_SPLIT}} > /dev/null"}}}}',
]


@pytest.mark.parametrize("source", ["dotenv", "command"])
async def test_payloads_from_the_targets_settings_create_no_file_and_stay_one_argument(
        tmp_path: Path, source: str) -> None:
    box = tmp_path / "box"
    box.mkdir()
    values = payloads(box)
    if source == "dotenv":
        (tmp_path / ".env").write_text(dotenv_text(values))
        settings = "{source: dotenv, path: .env}"
    else:  # a settings command printing KEY=VALUE lines (newlines cannot travel this way)
        values.pop("P_NEWLINE")
        (tmp_path / "env.txt").write_text("".join(f"{k}={v}\n" for k, v in values.items()) + "P_NEWLINE=one\n")
        settings = "{source: command, command: [cat, env.txt]}"
        values["P_NEWLINE"] = "one"
    argv, shell = await run_checks(tmp_path, settings, CHECKS)
    assert list(box.iterdir()) == [], "a settings value ran as code"
    assert argv.status is Status.PASS and shell.status is Status.PASS, (argv.summary, shell.summary)
    expected = [values[n] for n in ("P_SEMI", "P_SUBST", "P_TICK", "P_SPLIT", "P_NEWLINE", "P_QUOTE")]
    assert argv_of(argv) == [*expected, "--split=a b c"]
    assert argv_of(shell) == expected


def test_the_template_is_split_before_interpolation() -> None:
    env = {"A": "a b", "S": "x; y"}
    assert command_argv("tool ${A} --opt=${S} '${A} and more' $$HOME ${MISSING:-d e}", env) == \
        ["tool", "a b", "--opt=x; y", "a b and more", "$HOME", "d e"]
    shell = shell_command("echo ${A} \"${S}\" '${S}' $$HOME", env)  # values by reference, never in the text
    assert shell.text == "echo \"${GOLIVE_V_A}\" \"${GOLIVE_V_S}\" ''\"${GOLIVE_V_S}\"'' $HOME"
    assert shell.env == {"GOLIVE_V_A": "a b", "GOLIVE_V_S": "x; y"}
