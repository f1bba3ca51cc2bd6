"""Parsing the text after `/golive` (or a Teams mention) into plain command objects.

Verbs live in a table (`register_verb`) so a new one needs no parser change. `promote` and `rollback`
are parsed here like the rest; the rollout area supplies their handlers (`bot.rollout.chat.install`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """Base of every command; `ChatOps.execute` dispatches on the concrete type."""


@dataclass(frozen=True)
class StatusCommand(Command):
    pass


@dataclass(frozen=True)
class RunCommand(Command):
    selector: str


@dataclass(frozen=True)
class SignoffCommand(Command):
    stage: str


@dataclass(frozen=True)
class PromoteCommand(Command):
    phase: str


@dataclass(frozen=True)
class RollbackCommand(Command):
    reason: str = ""


@dataclass(frozen=True)
class ResumeCommand(Command):
    """Clear a rollout pause once the P0 is over (the chat twin of `golive resume`)."""


@dataclass(frozen=True)
class WaiveCommand(Command):
    """Accept a failing check for a while: `waive <check> <duration> <reason>`."""

    check_id: str
    duration: str
    reason: str


@dataclass(frozen=True)
class UnwaiveCommand(Command):
    """Revoke the live waivers of a check: `unwaive <check>`."""

    check_id: str


@dataclass(frozen=True)
class AcknowledgeCommand(Command):
    """Acknowledge a break-glass action: `acknowledge <id>`."""

    break_glass_id: str


@dataclass(frozen=True)
class FreezeCommand(Command):
    """`freeze` shows; `freeze <until> <reason>` declares; `freeze lift`; `freeze override <reason>`."""

    action: str = "show"  # show | declare | lift | override
    until: str = ""
    reason: str = ""


@dataclass(frozen=True)
class HistoryCommand(Command):
    limit: int = 10


@dataclass(frozen=True)
class HelpCommand(Command):
    unknown: str | None = None  # the text we could not understand, if any
    problem: str | None = None  # why, when the verb was known but its argument was not


Parser = Callable[[list[str]], Command]


@dataclass(frozen=True)
class Verb:
    name: str
    args: str
    help: str
    parse: Parser
    aliases: tuple[str, ...] = ()


def _run(args: list[str]) -> Command:
    """`run` alone runs every phase, as `golive run` does in a terminal."""
    if len(args) > 1:
        return HelpCommand(unknown=" ".join(["run", *args]), problem="`run` takes one phase or check, e.g. `run day1`")
    return RunCommand(selector=args[0] if args else "all")


def _signoff(args: list[str]) -> Command:
    if len(args) != 1:
        return HelpCommand(unknown=" ".join(["signoff", *args]), problem="`signoff` takes a stage: `pre` or `post`")
    return SignoffCommand(stage=args[0].lower())


def _promote(args: list[str]) -> Command:
    if len(args) != 1:
        return HelpCommand(unknown=" ".join(["promote", *args]),
                           problem="`promote` takes one rollout phase, e.g. `promote phase-2`")
    return PromoteCommand(phase=args[0])


def _waive(args: list[str]) -> Command:
    if len(args) < 3:
        return HelpCommand(unknown=" ".join(["waive", *args]),
                           problem="`waive` takes a check, a duration and a reason, e.g. "
                                   "`waive smoke.cache 2h cache warms up after the deploy`")
    return WaiveCommand(check_id=args[0], duration=args[1], reason=" ".join(args[2:]))


def _unwaive(args: list[str]) -> Command:
    if len(args) != 1:
        return HelpCommand(unknown=" ".join(["unwaive", *args]), problem="`unwaive` takes one check, e.g. "
                           "`unwaive smoke.cache`")
    return UnwaiveCommand(check_id=args[0])


def _freeze(args: list[str]) -> Command:
    if not args:
        return FreezeCommand()
    if args[0].lower() == "lift" and len(args) == 1:
        return FreezeCommand(action="lift")
    if args[0].lower() == "override" and len(args) > 1:
        return FreezeCommand(action="override", reason=" ".join(args[1:]))
    if len(args) >= 2 and args[0].lower() not in ("lift", "override"):
        return FreezeCommand(action="declare", until=args[0], reason=" ".join(args[1:]))
    return HelpCommand(unknown=" ".join(["freeze", *args]),
                       problem="`freeze` alone shows the freezes; `freeze 2h <reason>` declares one; `freeze lift`; "
                               "`freeze override <reason>`")


def _history(args: list[str]) -> Command:
    if not args:
        return HistoryCommand()
    if len(args) == 1 and args[0].isdigit() and 0 < int(args[0]) <= 50:
        return HistoryCommand(limit=int(args[0]))
    return HelpCommand(unknown=" ".join(["history", *args]), problem="`history` takes an optional count up to 50")


VERBS: dict[str, Verb] = {}


def register_verb(verb: Verb) -> None:
    for name in (verb.name, *verb.aliases):
        VERBS[name] = verb


for _verb in (
    Verb("status", "", "each phase, the Go/No-Go verdict and why, missing sign-offs, the rollout phase",
         lambda args: StatusCommand() if not args else HelpCommand(unknown="status " + " ".join(args))),
    Verb("run", "<phase|check>", "run a phase (`day1`) or one check (`redis.ping`); results update live", _run),
    Verb("signoff", "pre|post", "post a sign-off card with a button per required role", _signoff,
         aliases=("sign-off",)),
    Verb("promote", "<phase>", "turn on the phase's flags when the gate holds; announces it and starts the watch",
         _promote),
    Verb("rollback", "[reason]", "turn the current phase's flags back off and announce it",
         lambda args: RollbackCommand(reason=" ".join(args))),
    Verb("resume", "", "clear a rollout pause after the all-clear (refused while a P0 is open)",
         lambda args: ResumeCommand() if not args else HelpCommand(unknown="resume " + " ".join(args),
                                                                   problem="`resume` takes no argument")),
    Verb("waive", "<check> <duration> <reason>", "accept a failing check until the waiver expires (e.g. 2h)",
         _waive),
    Verb("unwaive", "<check>", "revoke a check's waiver", _unwaive),
    Verb("history", "[n]", "the most recent runs", _history),
    Verb("freeze", "[<until> <reason> | lift | override <reason>]",
         "show, declare, lift or override a release freeze (promotions are refused during one)", _freeze),
    Verb("help", "", "this help", lambda args: HelpCommand()),
    # after help: rare, so it does not push a daily verb out of Teams' ten visible commands
    Verb("acknowledge", "<id>", "acknowledge a break-glass action taken from a terminal (`status` lists them)",
         lambda args: AcknowledgeCommand(break_glass_id=args[0]) if len(args) == 1 else
         HelpCommand(unknown=" ".join(["acknowledge", *args]), problem="`acknowledge` takes one break-glass id")),
):
    register_verb(_verb)


def parse_command(text: str) -> Command:
    """Command text → a command object; anything not understood becomes HelpCommand."""
    words = (text or "").split()
    if not words:
        return HelpCommand()
    verb = VERBS.get(words[0].lower())
    if verb is None:
        return HelpCommand(unknown=text.strip())
    return verb.parse(words[1:])


def usage() -> list[tuple[str, str]]:
    """(`verb args`, what it does) for every distinct verb, for help replies."""
    seen: list[Verb] = []
    for verb in VERBS.values():
        if verb not in seen:
            seen.append(verb)
    return [(f"{v.name} {v.args}".strip(), v.help) for v in seen]
