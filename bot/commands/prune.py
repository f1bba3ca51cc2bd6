"""`golive prune --older-than 90d [--yes]`: delete runs, results and rollout events older than an age.

A dry run by default: it says what would go and what is kept. With --yes it deletes in small batches
(bot.store.retention) and appends an audit row. The bot does the same on its own, on the leader, with
GOLIVE_RETENTION_DAYS (bot.serving.scheduler.RetentionJob).
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

from bot.access import Action, Target
from bot.commands.acting import EXIT_REFUSED, Refused, acting, add_identity_args, after_change
from bot.commands.common import UsageError, add_checklist_arg, load_context
from bot.store.retention import DEFAULT_BATCH, MAX_BATCH, MIN_BATCH, PruneReport, parse_age, prune, retention_days


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("prune", help="delete history older than an age (dry run unless --yes)",
                       description="Delete runs, results and rollout events older than an age. The latest result "
                       "of each check, runs a sign-off refers to, the deployment record and the audit log are kept.")
    p.add_argument("--older-than", metavar="AGE", help="e.g. 90d, 36h or 12w (default: GOLIVE_RETENTION_DAYS, "
                   "180 days)")
    p.add_argument("--yes", action="store_true", help="delete (without it, only count what would go)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH,
                   help=f"rows deleted per transaction ({MIN_BATCH}-{MAX_BATCH}, default {DEFAULT_BATCH})")
    p.add_argument("--json", action="store_true")
    add_checklist_arg(p)  # its sign-off roles say who may delete (--yes); a dry run needs no one
    add_identity_args(p)
    p.set_defaults(func=main)


def _age(args: argparse.Namespace) -> timedelta:
    try:
        if args.older_than:
            return parse_age(args.older_than)
        days = retention_days()
    except ValueError as exc:
        raise UsageError(f"{exc}") from None
    if days <= 0:
        raise UsageError("GOLIVE_RETENTION_DAYS is 0 (keep everything): give --older-than, e.g. --older-than 90d")
    return timedelta(days=days)


def main(args: argparse.Namespace) -> int:
    age = _age(args)
    if not MIN_BATCH <= args.batch_size <= MAX_BATCH:
        raise UsageError(f"--batch-size must be between {MIN_BATCH} and {MAX_BATCH}")
    ctx = load_context(args)
    store = ctx.store()
    try:
        who = None
        if args.yes:  # deleting is a change like any other: the access table decides who may (bot.access)
            try:
                who = acting(ctx, store, args, Action.HISTORY_PRUNE, Target(subject="history"), "prune")
            except Refused:
                return EXIT_REFUSED
        actor = f"cli:{who.actor.user_id}" if who is not None else "cli:dry-run"
        report = prune(store, age, dry_run=not args.yes, batch_size=args.batch_size, actor=actor)
        if who is not None and who.break_glass is not None:
            after_change(ctx, store, who, "history pruned", machine_output=args.json)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(describe(report))
    return 0


def describe(report: PruneReport) -> str:
    when = report.cutoff.strftime("%Y-%m-%d %H:%M UTC")
    what = (f"{report.runs} run(s), {report.results} result(s), {report.events} rollout event(s) and "
            f"{report.incidents} resolved incident(s) from before {when}")
    kept = (f"; {report.kept_runs} older run(s) kept (they hold the latest result of a check, or a sign-off "
            "refers to them)") if report.kept_runs else ""
    if report.dry_run:
        return f"would delete {what}{kept}. Nothing was deleted: run again with --yes to delete."
    batches = f" in {len(report.batches)} batch(es) of at most {max(report.batches, default=0)} rows"
    return f"deleted {what}{batches}{kept}. The audit log keeps a record of this prune."
