"""Turning a checklist's command template into what runs, without letting a setting's value become code.

Why: `${VAR}` values come from the target's settings (its dotenv file, `kubectl exec ... env`), which
anyone able to change the target can write. A string command is therefore split into argv *before*
interpolation, so each value stays exactly one argument (`a b c` is one argument, `; touch x` is text);
with `shell: true` each value is quoted for the place it stands in (unquoted, "double" or 'single').
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from checks.interpolate import REFERENCE, resolve

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: never in a checklist, never split by shlex


def command_argv(template: str, env: Mapping[str, str]) -> list[str]:
    """`shlex.split` the template, then interpolate each word on its own."""
    found: list[str] = []

    def hold(match: object) -> str:
        found.append(resolve(match, env))  # type: ignore[arg-type]
        return f"{_OPEN}{len(found) - 1}{_CLOSE}"

    words = shlex.split(REFERENCE.sub(hold, template))
    out = []
    for word in words:
        while _OPEN in word:
            start = word.index(_OPEN)
            end = word.index(_CLOSE, start)
            word = word[:start] + found[int(word[start + 1:end])] + word[end + 1:]
        out.append(word)
    return out


def shell_command(template: str, env: Mapping[str, str]) -> str:
    """Interpolate a `/bin/sh` command line, quoting each value for its quoting context."""
    out: list[str] = []
    state = ""  # "", "'" or '"'
    i = 0
    while i < len(template):
        ch = template[i]
        if state != "'" and ch == "\\":
            out.append(template[i:i + 2])
            i += 2
            continue
        if ch in "'\"" and state in ("", ch):
            state = "" if state else ch
            out.append(ch)
            i += 1
            continue
        match = REFERENCE.match(template, i) if ch == "$" else None
        if match is None:
            out.append(ch)
            i += 1
            continue
        value = resolve(match, env)
        if match.group(0) == "$$":
            out.append("$")
        elif state == "'":
            out.append(value.replace("'", "'\\''"))
        elif state == '"':
            out.append("".join("\\" + c if c in '\\"$`' else c for c in value))
        else:
            out.append(shlex.quote(value))
        i = match.end()
    return "".join(out)
