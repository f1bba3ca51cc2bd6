"""`golive run <phase|check|all>`: run checks from a terminal or CI; exit 0 on GO (conditional too unless
--strict), 1 on NO-GO, 3 when the store failed (could not decide)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TextIO

from bot.commands.common import (
    Context,
    UsageError,
    add_checklist_arg,
    demo_target,
    load_context,
    verdict_exit,
)
from bot.runs.runner import make_runner
from bot.runs.service import RunOutcome, execute_run
from bot.store import RunRecord
from bot.terminal.render import ICON, Style, render_report
from checks.result import CheckResult
from checks.target_env import SettingsError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a phase, a check (or glob) or all, and print the verdict")
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


async def run_selector(ctx: Context, selector: str, progress: Progress, demo_url: str | None = None) -> RunOutcome:
    store = ctx.store()
    try:
        overrides = {"GOLIVE_DEMO_URL": demo_url} if demo_url else None
        runner = make_runner(ctx.checklist, store, concurrency=ctx.settings.concurrency, overrides=overrides)
        return await execute_run(store, ctx.checklist, selector, requested_by="cli", source="cli", runner=runner,
                                 on_result=progress.update)
    finally:
        store.close()


def main(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    if ctx.is_demo:
        print("golive: running the bundled demo checklist against an embedded demo service "
              "(use --checklist or GOLIVE_CHECKLIST for a real one)\n", file=sys.stderr)
    try:
        with demo_target(ctx) as demo_url:
            outcome = asyncio.run(run_selector(ctx, args.selector, Progress(enabled=not args.json), demo_url))
    except LookupError as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    except SettingsError as exc:
        raise UsageError(f"cannot read the target's settings: {exc}") from None
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
