"""Turning a checklist's command template into what runs, without letting a setting's value become code.

Why: `${VAR}` values come from the target's settings (its dotenv file, `kubectl exec ... env`), which
anyone able to change the target can write. A string command is therefore split into argv *before*
interpolation, so each value stays exactly one argument (`a b c` is one argument, `; touch x` is text).
With `shell: true` no value is ever part of the text the shell parses: each `${VAR}` becomes a reference
to a variable of the child's environment holding the value, written for the place it stands in.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from checks.interpolate import REFERENCE, resolve

VALUE_PREFIX = "GOLIVE_V_"  # `${X}` in a shell command becomes "$GOLIVE_V_X", the value in the environment

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: never in a checklist, never split by shlex


def command_argv(template: str, env: Mapping[str, str]) -> list[str]:
    """`shlex.split` the template, then interpolate each word on its own."""
    found: list[str] = []

    def hold(match: object) -> str:
        found.append(resolve(match, env))  # type: ignore[arg-type]  # re.sub hands a re.Match
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


class ShellTemplateError(ValueError):
    """A `shell: true` command golive cannot give its values safely; the message says what to change."""


class QuotedHeredocError(ShellTemplateError):
    """A `${VAR}` inside a quoted here-document (`<<'END'`), where the shell expands nothing."""


@dataclass
class ShellCommand:
    """A `/bin/sh -c` text that names each value by a variable, and those variables' values."""

    text: str
    env: dict[str, str] = field(default_factory=dict)


class _References:
    """`${VAR}` / `${VAR:-default}` -> a variable of the child's environment holding the resolved value."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.values: dict[str, str] = {}  # variable -> value
        self.names: dict[str, str] = {}  # reference text -> variable

    def name(self, match: re.Match[str]) -> str:
        ref: str = match.group(0)
        if ref not in self.names:
            base = VALUE_PREFIX + match["name"]
            name, n = base, 2
            while name in self.values:
                name, n = f"{base}_{n}", n + 1
            value = resolve(match, self.env)
            if "\0" in value:
                raise ShellTemplateError(f"the value of {match['name']} holds a NUL byte, which no program can "
                                         "be given; fix the setting")
            self.names[ref], self.values[name] = name, value
        return self.names[ref]


_HEREDOC = re.compile(r"<<(?P<strip>-?)[ \t]*(?P<word>(?:[^\s;&|<>()'\"\\]|\\.|'[^']*'|\"[^\"]*\")+)")


def shell_command(template: str, env: Mapping[str, str]) -> ShellCommand:
    """The `/bin/sh` command line with every `${VAR}` replaced by a reference to an environment variable
    (GOLIVE_V_VAR) whose value is the setting: the value is never part of the text the shell parses.

    The reference is written for where it stands: `"${GOLIVE_V_X}"` unquoted (one word, no globbing),
    `${GOLIVE_V_X}` inside "..." and in a here-document body, `'"${GOLIVE_V_X}"'` inside '...'; `$(...)`
    and backquotes open an unquoted context of their own. `$$` is a literal `$`.
    """
    refs = _References(env)
    out: list[str] = []
    stack: list[str] = ["U"]  # U unquoted, D "...", S '...', P $( ... ) (count of open parens), B `...`
    depth: list[int] = []
    heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, quoted, strip tabs) waiting for the newline
    i, n = 0, len(template)
    while i < n:
        ch, top = template[i], stack[-1]
        if top == "S":
            if ch == "'":
                stack.pop()
                out.append(ch)
            elif (m := REFERENCE.match(template, i)) and ch == "$":
                out.append("$" if m.group(0) == "$$" else f"'\"${{{refs.name(m)}}}\"'")
                i = m.end()
                continue
            else:
                out.append(ch)
            i += 1
            continue
        if ch == "\\":
            out.append(template[i:i + 2])
            i += 2
            continue
        if ch == "$" and (m := REFERENCE.match(template, i)):
            if m.group(0) == "$$":
                out.append("$")
            elif top == "D":
                out.append(f"${{{refs.name(m)}}}")
            else:
                out.append(f"\"${{{refs.name(m)}}}\"")
            i = m.end()
            continue
        if top == "D" and ch == '"':
            stack.pop()
        elif top != "D" and ch == "'":
            stack.append("S")
        elif top != "D" and ch == '"':
            stack.append("D")
        elif template.startswith("$(", i):
            stack.append("P")
            depth.append(0)
            out.append("$(")
            i += 2
            continue
        elif ch == "`":
            if top == "B":
                stack.pop()
            else:
                stack.append("B")
        elif top == "P" and ch == "(":
            depth[-1] += 1
        elif top == "P" and ch == ")":
            if depth[-1] == 0:
                stack.pop()
                depth.pop()
            else:
                depth[-1] -= 1
        elif top != "D" and ch == "<" and (m := _HEREDOC.match(template, i)) and not template.startswith("<<<", i):
            word = m["word"]
            delimiter = re.sub(r"\\(.)|['\"]", lambda q: q.group(1) or "", word)
            heredocs.append((delimiter, word != delimiter, bool(m["strip"])))
            out.append(m.group(0))
            i = m.end()
            continue
        elif ch == "\n" and heredocs:
            out.append(ch)
            i = _heredoc_bodies(template, i + 1, heredocs, refs, out)
            heredocs.clear()
            continue
        out.append(ch)
        i += 1
    return ShellCommand(text="".join(out), env=refs.values)


def _heredoc_bodies(template: str, i: int, heredocs: list[tuple[str, bool, bool]], refs: _References,
                    out: list[str]) -> int:
    """Copy the bodies of the pending here-documents starting at `i`; returns where the command goes on."""
    for delimiter, quoted, strip in heredocs:
        while i < len(template):
            end = template.find("\n", i)
            line = template[i:] if end < 0 else template[i:end + 1]
            i += len(line)
            bare = line.rstrip("\n")
            if (bare.lstrip("\t") if strip else bare) == delimiter:
                out.append(line)
                break
            if quoted:
                if any(m["name"] for m in REFERENCE.finditer(line)):
                    raise QuotedHeredocError(
                        f"`${{...}}` inside the quoted here-document <<'{delimiter}': the shell expands nothing "
                        f"there, so the value cannot reach it; write <<{delimiter} (unquoted) instead")
                out.append(line.replace("$$", "$"))
                continue
            out.append(_body_line(line, refs))
    return i


def _body_line(line: str, refs: _References) -> str:
    """An unquoted here-document line: parameter expansion happens, quotes are literal text."""
    parts: list[str] = []
    i = 0
    while i < len(line):
        if line[i] == "\\":
            parts.append(line[i:i + 2])
            i += 2
        elif line[i] == "$" and (m := REFERENCE.match(line, i)):
            parts.append("$" if m.group(0) == "$$" else f"${{{refs.name(m)}}}")
            i = m.end()
        else:
            parts.append(line[i])
            i += 1
    return "".join(parts)


def shell_words(words: Sequence[str], env: Mapping[str, str]) -> ShellCommand:
    """A list command run through the shell: each element one word, its `${VAR}`s referenced by variable."""
    refs = _References(env)
    text = []
    for word in words:
        pieces, last = [], 0
        for m in REFERENCE.finditer(word):
            pieces.append(shlex.quote(word[last:m.start()]) if m.start() > last else "")
            pieces.append("'$'" if m.group(0) == "$$" else f"\"${{{refs.name(m)}}}\"")
            last = m.end()
        if last < len(word) or not pieces:
            pieces.append(shlex.quote(word[last:]))
        text.append("".join(pieces))
    return ShellCommand(text=" ".join(text), env=refs.values)
