"""`golive status`, `golive checks`, `golive history`: what the store and the checklist say."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.commands.common import add_checklist_arg, load_context
from bot.runs.status import age, build_status
from bot.terminal.render import Style, render_checklist, render_results, render_status, render_verdict
from checks.masking import mask


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="latest result of each phase, the verdict, missing sign-offs")
    add_checklist_arg(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--run", metavar="ID", help="one run in full: its verdict and every check's whole evidence "
                                              "(the chat messages trim long evidence and point here)")
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
    if args.run:
        return run_status(ctx, args.run, as_json=args.json)
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
        }, indent=2))
    else:
        print(render_status(overview, Style(sys.stdout.isatty())))
    return 0


def run_status(ctx: Any, run_id: str, *, as_json: bool) -> int:
    """`golive status --run <id>`: what Slack and Teams show trimmed, here whole (masked)."""
    store = ctx.store()
    try:
        run = store.get_run(run_id)
        results = store.results(run_id) if run else []
    finally:
        store.close()
    if run is None:
        print(f"no run {run_id!r} in the store; `golive history` lists recent runs with their ids", file=sys.stderr)
        return 2
    if as_json:
        print(mask(json.dumps({
            "id": run.id, "checklist": run.checklist, "selector": run.selector, "status": run.status,
            "requested_by": run.requested_by, "started_at": run.started_at.isoformat(),
            "verdict": run.verdict.model_dump(mode="json") if run.verdict else None,
            "results": [r.model_dump(mode="json") for r in results]}, indent=2)))
        return 0
    style = Style(sys.stdout.isatty())
    lines = [f"run {run.id}: {run.selector} ({run.checklist}) — {run.status}, requested by "
             f"{run.requested_by or '?'} {age(run.started_at)}", *render_results(results, style)]
    if run.verdict is not None:
        lines += render_verdict(run.verdict, style)
    with_evidence = [r for r in results if r.evidence]
    if with_evidence:
        lines += ["", "  Evidence (in full):"]
        for result in with_evidence:
            lines.append(f"    {result.check_id} ({result.status.value}):")
            for key, value in result.evidence.items():
                text = str(value)
                lines += [f"      {key}:", *(f"        {t}" for t in text.splitlines())] if "\n" in text \
                    else [f"      {key}: {text}"]
    print(mask("\n".join(lines)))
    return 0


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
