"""`golive status`, `golive checks`, `golive history`: what the store and the checklist say.
`status` exits like `run`: 0 GO, 1 NO-GO, 3 could not decide."""

from __future__ import annotations

import argparse
import json
import sys

from bot.commands.common import add_checklist_arg, load_context, verdict_exit
from bot.runs.status import age, build_status
from bot.terminal.render import Style, render_checklist, render_status


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="latest result of each phase, the verdict, missing sign-offs")
    add_checklist_arg(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--strict", action="store_true", help="treat GO (conditional) as failure (exit 1)")
    p.set_defaults(func=status)
    p = sub.add_parser("checks", help="list the phases and checks a checklist contains")
    add_checklist_arg(p)
    p.set_defaults(func=checks)
    p = sub.add_parser("history", help="recent runs")
    add_checklist_arg(p)
    p.add_argument("--limit", type=int, default=15)
    p.set_defaults(func=history)


def status(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    store = ctx.store()
    try:
        overview = build_status(store, ctx.checklist)
    finally:
        store.close()
    if args.json:
        print(json.dumps({
            "checklist": overview.checklist,
            "verdict": overview.verdict.model_dump(mode="json"),
            "phases": [{"id": p.id, "counts": p.counts, "last_run_at": p.last_run_at.isoformat()
                        if p.last_run_at else None} for p in overview.phases],
            "missing_signoffs": overview.missing_signoffs,
            "rollout_phase": overview.rollout_phase,
            "waivers": [w.model_dump(mode="json") for w in overview.waivers],
        }, indent=2))
    else:
        print(render_status(overview, Style(sys.stdout.isatty())))
    return verdict_exit(overview.verdict, strict=args.strict)


def checks(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    print(render_checklist(ctx.checklist))
    return 0


def history(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    store = ctx.store()
    try:
        runs = store.runs(checklist=ctx.checklist.name, limit=args.limit)
    finally:
        store.close()
    if not runs:
        print("no runs yet — try `golive run`")
    for run in runs:
        verdict = run.verdict.decision.label if run.verdict else "-"
        print(f"{run.id}  {run.started_at:%Y-%m-%d %H:%M:%S}  {run.selector:<14} {run.status:<11} {verdict:<17} "
              f"by {run.requested_by or '?'} ({age(run.started_at)})")
    return 0
