"""`golive status`, `golive checks`, `golive history`: what the store and the checklist say.
`status` exits like `run`: 0 GO, 1 NO-GO, 3 could not decide."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.chatops.commands import cli_help
from bot.commands.common import (
    UsageError,
    add_checklist_arg,
    bounded_int,
    load_context,
    load_every_service,
    verdict_exit,
)
from bot.terminal.render import Style, render_checklist, render_results, render_status, render_verdict
from checks.interpolate import MissingVariable, interpolate
from checks.masking import masker, scrub
from checks.spec import Checklist
from checks.target_env import SettingsError, read_target_env

if TYPE_CHECKING:
    from bot.rollout.rules import BlindRule

# The store's side (bot.runs.status, bot.authority.breakglass) is imported by the verbs that read the store: `golive
# checks` only reads the checklist, and is run in CI steps where start-up time shows.


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help=cli_help("status"))
    add_checklist_arg(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--strict", action="store_true", help="treat GO (conditional) as failure (exit 1)")
    p.add_argument("--run", metavar="ID", help="one run in full: its verdict and every check's whole evidence "
                                              "(the chat messages trim long evidence and point here)")
    p.add_argument("--all", action="store_true", help="one line per service: verdict, rollout phase, open "
                   "incidents, missing sign-offs; exits with the worst verdict's code")
    p.set_defaults(func=status)
    p = sub.add_parser("checks", help="list the phases and checks a checklist contains, and the watch rules "
                       "that cannot be evaluated against the target (blind)")
    add_checklist_arg(p)
    p.add_argument("--offline", action="store_true", help="do not contact the target (no watch preflight)")
    p.set_defaults(func=checks)
    p = sub.add_parser("history", help=cli_help("history"))
    add_checklist_arg(p)
    p.add_argument("--limit", type=bounded_int(1, 1000), default=15, help="how many runs (1-1000)")
    p.set_defaults(func=history)


def status(args: argparse.Namespace) -> int:
    from bot.authority.breakglass import unacknowledged
    from bot.runs.status import build_status

    if args.all:
        return status_all(args)
    ctx = load_context(args)
    if args.run:
        return run_status(ctx, args.run, as_json=args.json)
    store = ctx.store()
    try:
        overview = build_status(store, ctx.checklist)
        broken_glass = unacknowledged(store, ctx.checklist.name)
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
            "break_glass": [dataclasses.asdict(b) for b in broken_glass],
        }, indent=2))
    else:
        print(render_status(overview, Style(sys.stdout.isatty())))  # break-glass items are among its warnings
    return verdict_exit(overview.verdict, strict=args.strict)


@dataclasses.dataclass(frozen=True)
class ServiceLine:
    """One service in `golive status --all`."""

    service: str
    verdict: str
    exit_code: int
    rollout_phase: str | None
    open_incidents: int
    missing_signoffs: list[str]

    def cells(self) -> list[str]:
        return [self.service, self.verdict, self.rollout_phase or "-", str(self.open_incidents),
                ", ".join(self.missing_signoffs) or "-"]


ALL_HEADER = ["SERVICE", "VERDICT", "ROLLOUT", "INCIDENTS", "MISSING SIGN-OFFS"]


def status_all(args: argparse.Namespace) -> int:
    """Every service's status read from the one shared store, each through its own keyed view; the exit
    code is the worst verdict's (as `golive status` exits for one)."""
    if args.run or args.service:
        raise UsageError("--all shows every service: leave out --run and --service (or drop --all)")
    ctx = load_every_service(args)
    registry = ctx.registry
    assert registry is not None
    shared = ctx.shared_store()
    try:
        lines = [service_line(ctx.scoped(shared, service), service.name, service.checklist, strict=args.strict)
                 for service in registry if service.checklist is not None]
    finally:
        shared.close()
    if args.json:
        print(json.dumps([dataclasses.asdict(line) for line in lines], indent=2))
    else:
        print(table([ALL_HEADER, *(line.cells() for line in lines)]))
    return max(line.exit_code for line in lines)


def service_line(store: Any, name: str, checklist: Checklist, *, strict: bool) -> ServiceLine:
    from bot.rollout.records import RolloutRecords
    from bot.runs.status import build_status

    overview = build_status(store, checklist)
    return ServiceLine(service=name, verdict=overview.verdict.decision.label,
                       exit_code=verdict_exit(overview.verdict, strict=strict),
                       rollout_phase=overview.rollout_phase,
                       open_incidents=len(RolloutRecords(store, checklist.name).open_incidents()),
                       missing_signoffs=list(overview.missing_signoffs))


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def run_status(ctx: Any, run_id: str, *, as_json: bool) -> int:
    """`golive status --run <id>`: what Slack and Teams show trimmed, here whole (masked)."""
    from bot.runs.status import age

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
        print(json.dumps(masker.scrub_data({
            "id": run.id, "checklist": run.checklist, "selector": run.selector, "status": run.status,
            "requested_by": run.requested_by, "started_at": run.started_at.isoformat(),
            "verdict": run.verdict.model_dump(mode="json") if run.verdict else None,
            "results": [r.model_dump(mode="json") for r in results]}), indent=2))
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
    print(scrub("\n".join(lines)))  # stored text was masked before it was written; this is our layout
    return 0


def checks(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    print(render_checklist(ctx.checklist))
    if ctx.checklist.rollout is not None and ctx.checklist.rollout.phases and not args.offline:
        print("\n" + "\n".join(watch_preflight_lines(ctx.checklist)))
    return 0


def watch_preflight_lines(checklist: Checklist) -> list[str]:
    """The rollout watch's rules evaluated once against the target: which ones are blind."""

    async def blind() -> tuple[str, list[BlindRule]]:
        workdir = Path(checklist.source_path).resolve().parent if checklist.source_path else Path.cwd()
        env = await read_target_env(checklist, workdir)
        url = str(interpolate(checklist.target.base_url, env))
        # the watch's models and HTTP client only once there is a target to ask (start-up time of `golive checks`)
        from bot.rollout.models import watch_config
        from bot.rollout.preflight import preflight

        return url, await preflight(watch_config(checklist), url, env=env)

    try:
        url, rules = asyncio.run(blind())
    except (SettingsError, MissingVariable, ValueError) as exc:
        return [f"  Watch preflight skipped: {exc}"]
    if not rules:
        return [f"  Watch preflight against {url}: every rule can be evaluated"]
    return [f"  Watch preflight against {url}: {len(rules)} rule(s) blind, they cannot raise an alert:",
            *(f"    blind: {r.line()}" for r in rules),
            "    publish the metric, point rollout.watch.metrics at it, or list the rule in "
            "rollout.watch.optional_rules"]


def history(args: argparse.Namespace) -> int:
    from bot.runs.status import age

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
