"""Every chat verb, declared once: its name and aliases, its parse, its handler, its access action, its
help line, its reply types, its terminal twin and its place in Teams' command menu.

From this table come the chat parser (`parse_command`), `ChatOps.execute`'s dispatch, the access table's
rows for actions a verb brings (`bot.access`), the help of every transport (`usage`), the Slack usage hint
and the Teams command menu (both manifests), and the help lines of the `golive` verbs that have a terminal
twin (`bot.cli`). Adding a verb is one `Verb(...)` here (plus its terminal twin, if it gets one).

This module stays light (no store, no settings): `golive --help` reads it without importing the bot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.chatops.actor import Actor
    from bot.chatops.service import ChatOps, RunHooks


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
class PauseCommand(Command):
    """Hold promotions (the pause a P0 sets) until `resume`: `pause [reason]`."""

    reason: str = ""


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
Handler = Callable[[Any, Any, Any, Any], Awaitable[Any]]
"""(the ChatOps executing it, the parsed command, who asked (Actor), how a run is followed (RunHooks)) → the
reply. Loosely typed: ChatOps imports this module, so its decorated methods cannot be typed from here."""
ActionOf = str | Callable[[Any], str]
"""A `bot.access.Action` value, or a function of the parsed command when the verb's forms differ."""


async def _no_handler(ops: ChatOps, command: Any, actor: Actor, hooks: RunHooks) -> Any:
    return await ops.help(HelpCommand(unknown=type(command).__name__))


@dataclass(frozen=True)
class Verb:
    """One chat verb, whole. `action` names its row of the access table; `who` gives that row's rule
    (a `bot.access.Who` value) when the verb brings an action the table does not list yet. `replies` names
    the reply types the handler returns (`bot.chatops.replies.reply_type`), `cli` the module that
    registers its `golive` twin, and `menu` puts it among the ten commands Teams shows."""

    name: str
    args: str
    help: str
    parse: Parser
    aliases: tuple[str, ...] = ()
    command: type[Command] | None = None
    handler: Handler = _no_handler
    action: ActionOf = ""  # empty: not in the access table, so refused (fail closed)
    replies: tuple[str, ...] = ()
    cli: str | None = None
    menu: bool = False
    who: str | None = None

    @property
    def usage(self) -> str:
        return f"{self.name} {self.args}".strip()

    @property
    def service_usage(self) -> str:
        """The usage when the bot serves several services: the service comes first (`run [service] <phase>`)."""
        if self.name == "help":
            return self.usage
        return f"{self.name} [service] {self.args}".strip()

    def action_for(self, command: Command) -> str:
        return self.action(command) if callable(self.action) else self.action


VERBS: dict[str, Verb] = {}
_BY_COMMAND: dict[type, Verb] = {}


def register_verb(verb: Verb) -> None:
    for name in (verb.name, *verb.aliases):
        if name in VERBS and VERBS[name] is not verb:
            raise ValueError(f"the chat verb `{name}` is declared twice")
        VERBS[name] = verb
    if verb.command is not None:
        _BY_COMMAND[verb.command] = verb


def unregister_verb(name: str) -> None:
    """Remove a verb and its aliases (tests that declare one for a while)."""
    verb = VERBS.get(name)
    if verb is None:
        return
    for alias in (verb.name, *verb.aliases):
        VERBS.pop(alias, None)
    if verb.command is not None and _BY_COMMAND.get(verb.command) is verb:
        del _BY_COMMAND[verb.command]


def declared() -> list[Verb]:
    """Every distinct verb, in declaration order."""
    return list(dict.fromkeys(VERBS.values()))


def verb_of(command: Command) -> Verb | None:
    return _BY_COMMAND.get(type(command))


def action_of(command: Command) -> str:
    """The access action (a `bot.access.Action` value) a parsed command needs; "" when no verb declares the
    command's type, which the access table refuses (fail closed)."""
    verb = verb_of(command)
    return verb.action_for(command) if verb is not None else ""


def declared_rules() -> dict[str, str]:
    """action → `Who` value, for the actions verbs bring with them (`bot.access` adds these rows)."""
    return {verb.action: verb.who for verb in declared() if verb.who and isinstance(verb.action, str)}


def cli_help(name: str) -> str:
    """The help line of a `golive` verb that is also a chat verb: written once, in its declaration."""
    return VERBS[name].help


def terminal_twins() -> dict[str, tuple[str, str]]:
    """`golive` verb → (the module that registers it, its help line), for the verbs declared here."""
    return {verb.name: (verb.cli, verb.help) for verb in declared() if verb.cli}


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


def _no_args(name: str, command: Callable[[], Command]) -> Parser:
    def parse(args: list[str]) -> Command:
        if args:
            return HelpCommand(unknown=" ".join([name, *args]), problem=f"`{name}` takes no argument")
        return command()

    return parse


def _freeze_action(command: FreezeCommand) -> str:
    """Anyone may see the freezes; declaring, lifting and overriding one is for role holders."""
    return "status" if command.action == "show" else "rollout.freeze"


# -- rollout verbs: the rollout area's service, installed by `bot.rollout.chat.install` --------------------
async def _rollout_allowed(ops: ChatOps, actor: Actor, action: str, subject: str) -> Any:
    """None when `actor` may do `action`, else the Denied reply (the refusal is audited)."""
    from bot.access import Target
    from bot.chatops.replies import Denied

    decision = await ops.allowed(actor, action, Target(subject=subject))
    return None if decision.allowed else Denied(action, decision.reason)


async def _promote_handler(ops: ChatOps, command: PromoteCommand, actor: Actor, hooks: RunHooks) -> Any:
    if ops.rollout is None:
        return await ops.rollout_not_configured()
    if denied := await _rollout_allowed(ops, actor, "rollout.promote", command.phase):
        return denied
    try:
        return await ops.rollout.promote(command.phase, actor=actor.user_id)
    except LookupError as exc:
        from bot.chatops.replies import Failed

        return Failed(str(exc).strip("'\""))


async def _rollback_handler(ops: ChatOps, command: RollbackCommand, actor: Actor, hooks: RunHooks) -> Any:
    if ops.rollout is None:
        return await ops.rollout_not_configured()
    if denied := await _rollout_allowed(ops, actor, "rollout.rollback", await ops.rollout.current_phase() or ""):
        return denied
    return await ops.rollout.rollback(actor=actor.user_id, reason=command.reason)


async def _resume_handler(ops: ChatOps, command: ResumeCommand, actor: Actor, hooks: RunHooks) -> Any:
    if ops.rollout is None:
        return await ops.rollout_not_configured()
    if denied := await _rollout_allowed(ops, actor, "rollout.keep_going", await ops.rollout.current_phase() or ""):
        return denied
    return await ops.rollout.resume(actor=actor.user_id)


async def _pause_handler(ops: ChatOps, command: PauseCommand, actor: Actor, hooks: RunHooks) -> Any:
    if ops.rollout is None:
        return await ops.rollout_not_configured()
    if denied := await _rollout_allowed(ops, actor, "rollout.pause", await ops.rollout.current_phase() or ""):
        return denied
    return await ops.rollout.hold(actor=actor.user_id, reason=command.reason)


for _verb in (
    Verb("status", "", "each phase, the Go/No-Go verdict and why, missing sign-offs, the rollout phase",
         _no_args("status", StatusCommand), command=StatusCommand, action="status",
         handler=lambda ops, c, a, h: ops.status(a), replies=("StatusOverview",), cli="bot.commands.status",
         menu=True),
    Verb("run", "<phase|check>", "run a phase (`day1`), a check (`redis.ping`, or a glob) or all; results update "
         "live, then the verdict", _run, command=RunCommand, action="run",
         handler=lambda ops, c, a, h: ops.run(a, c.selector, h), replies=("RunOutcome", "RunBusy"),
         cli="bot.commands.run", menu=True),
    Verb("signoff", "pre|post", "post a sign-off card with a button per required role", _signoff,
         aliases=("sign-off",), command=SignoffCommand, action="signoff.request",
         handler=lambda ops, c, a, h: ops.open_signoff(a, c.stage), replies=("SignoffOpened",), menu=True),
    Verb("promote", "<phase>", "turn on the phase's flags when the gate holds; announces it and starts the watch",
         _promote, command=PromoteCommand, action="rollout.promote", handler=_promote_handler,
         replies=("RolloutResult",), cli="bot.commands.rollout", menu=True),
    Verb("rollback", "[reason]", "turn the current phase's flags back to the previous phase and announce it",
         lambda args: RollbackCommand(reason=" ".join(args)), command=RollbackCommand, action="rollout.rollback",
         handler=_rollback_handler, replies=("RolloutResult",), cli="bot.commands.rollout", menu=True),
    Verb("resume", "", "clear a rollout pause after the all-clear (refused while a P0 is open)",
         _no_args("resume", ResumeCommand), command=ResumeCommand, action="rollout.keep_going",
         handler=_resume_handler, replies=("RolloutResult",), cli="bot.commands.rollout", menu=True),
    Verb("pause", "[reason]", "hold promotions at the current phase until `resume` (audited and announced)",
         lambda args: PauseCommand(reason=" ".join(args)), command=PauseCommand, action="rollout.pause",
         who="any_role_member", handler=_pause_handler, replies=("RolloutResult",), cli="bot.commands.rollout"),
    Verb("waive", "<check> <duration> <reason>", "accept a failing check until the waiver expires (e.g. 2h); "
         "role-checked, audited, revocable", _waive, command=WaiveCommand, action="check.waive",
         handler=lambda ops, c, a, h: ops.waive(a, c.check_id, c.duration, c.reason), replies=("Notice",),
         cli="bot.commands.waive", menu=True),
    Verb("unwaive", "<check>", "revoke a check's live waiver (role-checked, audited)", _unwaive,
         command=UnwaiveCommand, action="check.waive", handler=lambda ops, c, a, h: ops.unwaive(a, c.check_id),
         replies=("Notice",), cli="bot.commands.waive"),
    Verb("history", "[n]", "the most recent runs", _history, command=HistoryCommand, action="history",
         handler=lambda ops, c, a, h: ops.history(a, c.limit), replies=("HistoryReply",),
         cli="bot.commands.status", menu=True),
    Verb("freeze", "[<until> <reason> | lift | override <reason>]",
         "show, declare, lift or override a release freeze (promotions are refused during one)", _freeze,
         command=FreezeCommand, action=_freeze_action, handler=lambda ops, c, a, h: ops.freeze(a, c),
         replies=("Notice",), cli="bot.commands.freeze", menu=True),
    Verb("help", "", "this help", lambda args: HelpCommand(), command=HelpCommand, action="help",
         handler=lambda ops, c, a, h: ops.help(c), replies=("HelpReply",), menu=True),
    Verb("acknowledge", "<id>", "acknowledge a break-glass action taken from a terminal (a sign-off role holder, "
         "not the one who broke the glass; `status` lists them)",
         lambda args: AcknowledgeCommand(break_glass_id=args[0]) if len(args) == 1 else
         HelpCommand(unknown=" ".join(["acknowledge", *args]), problem="`acknowledge` takes one break-glass id"),
         command=AcknowledgeCommand, action="break_glass.acknowledge",
         handler=lambda ops, c, a, h: ops.acknowledge(a, c.break_glass_id), replies=("Notice",),
         cli="bot.commands.acknowledge"),
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


def usage(*, services: bool = False) -> list[tuple[str, str]]:
    """(`verb args`, what it does) for every distinct verb, for help replies; `services`: with the service
    argument, for a bot serving several."""
    return [(v.service_usage if services else v.usage, v.help) for v in declared()]


def menu(*, services: bool = False) -> list[tuple[str, str]]:
    """`usage()` of the verbs in Teams' command menu (it shows at most ten)."""
    return [(v.service_usage if services else v.usage, v.help) for v in declared() if v.menu]
