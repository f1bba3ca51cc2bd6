"""`golive run <phase|check|all>`: run checks from a terminal or CI; exit 0 on GO (conditional too unless
--strict), 1 on NO-GO, 3 when the store failed (could not decide), 4 when not started because a run
sharing its checks is going (started from a chat, or another terminal)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from typing import TextIO

from bot.chatops.actor import Actor
from bot.chatops.commands import cli_help
from bot.chatops.replies import Denied, Failed, Reply, RunBusy
from bot.chatops.service import ChatOps, RunHooks
from bot.commands.common import (
    EXIT_UNDECIDED,
    Context,
    UsageError,
    add_checklist_arg,
    demo_target,
    load_context,
    verdict_exit,
)
from bot.coordination.locks import build_locks
from bot.runs.runner import make_runner
from bot.runs.service import RunOutcome
from bot.store import RunRecord
from bot.terminal.render import ICON, Style, render_report
from checks.result import CheckResult

EXIT_BUSY = EXIT_UNDECIDED
"""The run was not started: a run sharing its checks is going (from a chat or another terminal). That is
"could not decide" (3), as PRODUCT.md's exit codes say: no verdict now, try again when it has finished."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help=cli_help("run"))
    p.add_argument("selector", nargs="?", default="all", help="phase id, check id, glob like 'smoke.*', or all")
    add_checklist_arg(p)
    p.add_argument("--json", action="store_true", help="print the run as JSON (secrets masked)")
    p.add_argument("--strict", action="store_true", help="treat GO (conditional) as failure (exit 1)")
    p.add_argument("--no-color", action="store_true")
    p.set_defaults(func=main)


class Progress:
    """A live progress line on a terminal; one line per finished check elsewhere (CI logs)."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()

    def update(self, run: RunRecord, result: CheckResult, done: int, total: int) -> None:
        if not self.enabled:
            return
        text = f"[{done}/{total}] {ICON[result.status]} {result.check_id} ({result.duration_ms:.0f} ms)"
        if self.tty:
            self.stream.write("\r\033[K" + text)
            if done == total:
                self.stream.write("\r\033[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def cli_user() -> str:
    """Who runs the CLI, as the run's requester: the login name (a CI job's user)."""
    try:
        return getpass.getuser() or "cli"
    except Exception:  # no login name (some containers)
        return "cli"


async def run_selector(ctx: Context, selector: str, progress: Progress, demo_url: str | None = None) -> Reply:
    """The run goes through ChatOps like a chat command: the same access rule and the same run locks (in
    Redis when configured, so a terminal and the bot agree), so two runs sharing a check never overlap."""
    settings = ctx.settings
    store, locks = ctx.scoped_with_locks(ctx.shared_store(), build_locks(settings.secret("redis_url"),
                                                                         settings.redis_prefix))
    try:
        overrides = {"GOLIVE_DEMO_URL": demo_url} if demo_url else None
        chatops = ChatOps(store, ctx.checklist, locks=locks, runner_factory=lambda: make_runner(
            ctx.checklist, store, concurrency=settings.concurrency, overrides=overrides))
        return await chatops.start_run(Actor(user_id=cli_user(), transport="cli"), selector,
                                       RunHooks(on_result=progress.update))
    finally:
        await locks.close()
        store.close()


def refused(reply: RunBusy) -> str:
    running = reply.running
    who = f" (run {running.id}, started by {running.requested_by} {reply.where} at {running.started_at:%H:%M:%S} UTC)" \
        if running else ""
    if reply.overlap:
        return (f"golive: not started: {reply.selector} shares checks with {reply.overlap}, which is running{who}. "
                "Run it again once that run has finished.")
    return f"golive: not started: {reply.selector} is already running{who}; `golive status` shows its verdict."


def main(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    if ctx.is_demo:
        print("golive: running the bundled demo checklist against an embedded demo service "
              "(use --checklist or GOLIVE_CHECKLIST for a real one)\n", file=sys.stderr)
    with demo_target(ctx) as demo_url:
        outcome = asyncio.run(run_selector(ctx, args.selector, Progress(enabled=not args.json), demo_url))
    if isinstance(outcome, RunBusy):
        print(refused(outcome), file=sys.stderr)
        return EXIT_BUSY
    if isinstance(outcome, Failed | Denied):
        raise UsageError(outcome.message if isinstance(outcome, Failed) else f"not allowed: {outcome.reason}")
    assert isinstance(outcome, RunOutcome), outcome
    report = outcome.report
    if args.json:
        payload = {
            "run_id": outcome.run.id, "checklist": report.checklist.name, "selector": report.selector,
            "verdict": report.verdict.model_dump(mode="json"), "wall_ms": round(report.wall_ms, 1),
            "results": [r.model_dump(mode="json") for r in report.results],
        }
        print(json.dumps(payload, indent=2))
    else:
        style = Style(color=sys.stdout.isatty() and not args.no_color)
        print(render_report(report, style))
        print(f"  Run {outcome.run.id} stored; `golive status` shows the overall picture.")
    return verdict_exit(report.verdict, strict=args.strict)
