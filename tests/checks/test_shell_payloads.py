"""With `shell: true`, no value from the target's settings is ever parsed as shell code (issue 18 item 2).

Each payload tries to create the file `pwned` (or any file) in the working directory; each is put in every
place a checklist's shell command can hold `${X}`. The value reaches the shell as an environment variable
the command text references, so no file appears, and where the place prints the value it arrives intact.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from checks.argv import QuotedHeredocError, ShellTemplateError, shell_command

PAYLOADS = [
    "$(touch pwned)",
    "`touch pwned`",
    "; touch pwned",
    "&& touch pwned",
    "| touch pwned",
    "|| touch pwned",
    "'; touch pwned; '",
    '"; touch pwned; "',
    '"$(touch pwned)"',
    "'$(touch pwned)'",
    '\\"; touch pwned; #',
    "one\ntouch pwned",
    "x\nEND\ntouch pwned\nEND",
    "x\nEND\n$(touch pwned)",
    "$((0))$(touch pwned)",
    "${IFS}$(touch${IFS}pwned)",
    "-n $(touch pwned)",
    "--help `touch pwned`",
    "(touch pwned)",
    "{ touch pwned; }",
    ">pwned",
    "a\\",
    "$'\\x3b'touch pwned",
    "'\"'\"'$(touch pwned)'\"'\"'",
    "<(touch pwned)",
    "!!; touch pwned #",
    "* $(touch pwned) ?",
    "\\`touch pwned\\`",
    "\t$(touch pwned)\r\n",
    "$$ $0 $1 ${HOME} $(touch pwned)",
]

# place -> (template, how the printed value relates to it: "exact", "stripped" (command substitution drops
# trailing newlines), "echo" (dash's echo reads backslashes and -n), or None (the place prints nothing))
CONTEXTS = {
    "unquoted": ("printf '%s\\n' ${X}", "exact"),
    "double_quoted": ("printf '%s\\n' \"${X}\"", "exact"),
    "single_quoted": ("printf '%s\\n' '${X}'", "exact"),
    "mixed_quotes": ("printf '%s\\n' \"a'\"'${X}'\"'b\"", "wrapped"),
    "heredoc": ("cat <<END\n${X}\nEND", "exact"),
    "heredoc_tabs": ("cat <<-END\n\t${X}\n\tEND", "exact"),
    "command_substitution": ("printf '%s\\n' \"$(printf '%s' \"${X}\")\"", "stripped"),
    "echo_in_substitution": ("echo \"$(echo \"${X}\")\"", "echo"),
    "backquotes": ("Y=`printf '%s' \"${X}\"`; printf '%s\\n' \"$Y\"", "stripped"),
    "subshell": ("(printf '%s\\n' ${X})", "exact"),
    "assignment": ("Y=${X}; printf '%s\\n' \"$Y\"", "exact"),
    "test": ("[ -n ${X} ] && printf '%s\\n' ok", None),
}


SHELLS = ["/bin/sh", *([bash] if (bash := shutil.which("bash")) else [])]  # /bin/sh is bash on some systems


def run(text: str, env: dict[str, str], cwd: Path, shell: str = "/bin/sh") -> subprocess.CompletedProcess[str]:
    done = subprocess.run([shell, "-c", text], env={"PATH": "/usr/bin:/bin", **env}, cwd=cwd,
                          capture_output=True, timeout=10)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def expected(value: str, how: str) -> str | None:
    if how == "exact":
        return value + "\n"
    if how == "wrapped":
        return f"a'{value}'b\n"
    if how == "stripped":
        return value.rstrip("\n") + "\n"
    if how == "echo" and "\\" not in value and not value.startswith("-n"):
        return value.rstrip("\n") + "\n"
    return None


def test_the_corpus_holds_at_least_25_payloads_in_every_context() -> None:
    assert len(PAYLOADS) >= 25 and len(set(PAYLOADS)) == len(PAYLOADS)
    assert len(CONTEXTS) >= 7


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("context", list(CONTEXTS))
def test_no_payload_runs_as_code_and_each_arrives_intact(tmp_path: Path, context: str, shell: str) -> None:
    template, how = CONTEXTS[context]
    for number, payload in enumerate(PAYLOADS):
        box = tmp_path / str(number)
        box.mkdir()
        command = shell_command(template, {"X": payload})
        assert payload not in command.text or payload in template, "the value is never pasted into the text"
        done = run(command.text, command.env, box, shell)
        assert list(box.iterdir()) == [], f"{payload!r} ran as code in {context}"
        if how is not None and (want := expected(payload, how)) is not None and not (shell != "/bin/sh" and
                                                                                   how == "echo"):
            assert (done.stdout, done.returncode) == (want, 0), (payload, done.stderr)


def test_a_quoted_heredoc_cannot_receive_a_value_and_says_to_unquote_it(tmp_path: Path) -> None:
    for payload in PAYLOADS:
        with pytest.raises(QuotedHeredocError, match=r"write <<END \(unquoted\)"):
            shell_command("cat <<'END'\n${X}\nEND", {"X": payload})
    # a quoted heredoc without a reference stays literal: `$$` is golive's escape for `$`
    command = shell_command("cat <<'END'\n$(touch pwned) $$HOME\nEND\necho ${X}", {"X": "ok"})
    done = run(command.text, command.env, tmp_path)
    assert (done.stdout, list(tmp_path.iterdir())) == ("$(touch pwned) $HOME\nok\n", [])


def test_a_value_holding_a_nul_byte_is_refused_before_anything_runs() -> None:
    with pytest.raises(ShellTemplateError, match="NUL byte"):
        shell_command("echo ${X}", {"X": "a\0$(touch pwned)"})


async def test_a_command_check_passes_values_to_its_shell_by_environment(tmp_path: Path) -> None:
    """The same through the `command` kind: values from the target's .env, a heredoc and `$(echo ...)`."""
    import json

    from tests.checks.test_command_injection import dotenv_text, run_checks

    box = tmp_path / "box"
    box.mkdir()
    values = {"P1": f"$(touch {box}/subst)", "P2": f"x\nEND\ntouch {box}/heredoc\nEND", "P3": f"'; touch {box}/q '"}
    (tmp_path / ".env").write_text(dotenv_text(values))
    command = "cat <<END\n${P1}\n${P2}\nEND\necho \"$(echo \"${P1}\")\" '${P3}'"
    check = json.dumps({"id": "here", "kind": "command", "params": {"shell": True, "command": command}})
    (result,) = await run_checks(tmp_path, "{source: dotenv, path: .env}", [check])
    assert list(box.iterdir()) == [], "a settings value ran as code"
    assert result.status.value == "pass", result.summary
    assert "GOLIVE_V_P1" in result.evidence["command"]
    printed = values["P1"] + "\n" + values["P2"] + "\n" + values["P1"] + " " + values["P3"]
    assert result.evidence["output_tail"] == printed
