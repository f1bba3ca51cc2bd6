"""Plain-text rendering of reports and status for terminals and CI logs."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from checks.result import CheckResult, Status
from checks.runner import RunReport
from checks.spec import Checklist, CheckSpec
from checks.verdict import Decision, Verdict

if TYPE_CHECKING:  # the store's side is imported by render_status: `golive checks` renders without it
    from bot.runs.status import StatusOverview

ICON = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.WARN: "WARN", Status.SKIP: "SKIP",
        Status.ERROR: "ERR ", Status.PENDING: "WAIT", Status.NA: "N/A "}
COLOR = {Status.PASS: "32", Status.FAIL: "31", Status.WARN: "33", Status.SKIP: "90", Status.ERROR: "35",
         Status.PENDING: "90", Status.NA: "90"}
DECISION_COLOR = {Decision.GO: "32", Decision.CONDITIONAL: "33", Decision.NO_GO: "31"}


class Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text


def _width() -> int:
    """The terminal's width (80 to 160); off a terminal (a CI log, a pipe) the widest, so summaries are
    not cut where nobody can widen the window."""
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        return 160
    return max(80, min(shutil.get_terminal_size((120, 20)).columns, 160))


def result_line(result: CheckResult, style: Style) -> str:
    status = style(ICON[result.status], COLOR[result.status])
    return f"  {status}  {result.check_id:<26} {result.criticality.value:<8} {result.duration_ms:>8.0f} ms  " \
           f"{result.summary}"


def render_results(results: Sequence[CheckResult], style: Style) -> list[str]:
    width = _width()
    lines = [f"  {'':4}  {'check':<26} {'crit':<8} {'time':>11}  summary", "  " + "-" * (width - 4)]
    for result in results:
        line = result_line(result, style)
        lines.append(line if len(line) <= width + 20 else line[: width + 17] + "...")
    return lines


def render_verdict(verdict: Verdict, style: Style) -> list[str]:
    lines = ["", "  Verdict: " + style(verdict.decision.label, "1;" + DECISION_COLOR[verdict.decision])
             + f"   (risk: {verdict.risk.value})"]
    for reason in verdict.reasons:
        lines.append(f"    - {reason}")
    if verdict.conditions:
        lines.append("  Conditions:")
        lines += [f"    - {c}" for c in verdict.conditions]
    if verdict.waived:
        lines.append("  Waived:")
        lines += [f"    - {w}" for w in verdict.waived]
    if verdict.notes:
        lines.append("  Notes (low, informational):")
        lines += [f"    - {n}" for n in verdict.notes]
    if verdict.writes:
        lines.append("  Written on the target by the checks:")
        lines += [f"    - {w}" for w in verdict.writes]
    return lines


def render_report(report: RunReport, style: Style) -> str:
    counts = ", ".join(f"{v} {k}" for k, v in report.verdict.counts.items() if v)
    lines = [f"{report.checklist.name}: {report.selector} — {len(report.results)} checks ({counts})",
             *render_results(report.results, style)]
    failing = [r for r in report.results if r.status in (Status.FAIL, Status.ERROR, Status.WARN) and r.evidence]
    if failing:
        lines.append("")
        lines.append("  Evidence:")
        for r in failing:
            evidence = ", ".join(f"{k}={v}" for k, v in r.evidence.items() if k != "output_tail")
            lines.append(f"    {r.check_id}: {evidence[:400]}")
            tail = r.evidence.get("output_tail")
            if tail:
                lines += [f"      | {t}" for t in str(tail).splitlines()[-6:]]
    lines += render_verdict(report.verdict, style)
    lines.append(f"\n  Wall time {report.wall_ms / 1000:.2f}s for {report.sum_ms / 1000:.2f}s of checks.")
    return "\n".join(lines)


def render_status(status: StatusOverview, style: Style) -> str:
    from bot.runs.status import age, deployment_facts

    lines = [f"{status.checklist} — go-live status"]
    for phase in status.phases:
        c = phase.counts
        lines.append(f"  {phase.id:<10} {phase.title[:36]:<36} {c['pass']:>3} pass {c['fail'] + c['error']:>3} fail "
                     f"{c['warn']:>3} warn {phase.pending + c['skip']:>3} pending {c['n/a']:>3} n/a   "
                     f"last run {age(phase.last_run_at)}")
    lines += render_verdict(status.verdict, style)
    lines.append("  Missing sign-offs: " + (", ".join(status.missing_signoffs) or "none"))
    lines.append(f"  Rollout phase: {status.rollout_phase or 'not started'}")
    lines += [f"  {label}: {value}" for label, value in deployment_facts(status)]
    if status.chart:
        lines += ["  Watch:"] + [f"    {row}" for row in status.chart.splitlines()]
    if status.timeline:
        lines += ["  Timeline:"] + [f"    {row}" for row in status.timeline.splitlines()]
    lines += [f"  WARNING: {warning}" for warning in status.warnings]
    if status.running:
        running = ", ".join(f"{r.selector} (by {r.requested_by or '?'})" for r in status.running)
        lines.append("  Running now: " + running)
    return "\n".join(lines)


def _writes(check: CheckSpec, defaults: dict[str, str]) -> str | None:
    """What the check writes, its `${VAR}`s filled from the checklist's `vars` where it has them."""
    from checks.interpolate import interpolate
    from checks.registry import get_kind

    kind = get_kind(check.kind)
    if kind is None:
        return None
    shown = check.model_copy(update={"params": interpolate(check.params, defaults, strict=False)})
    return kind.what_it_writes(shown)


def render_checklist(checklist: Checklist) -> str:
    lines = [f"{checklist.name} ({checklist.source_path})"]
    for phase in checklist.phases:
        lines.append(f"\n  {phase.id} — {phase.title}")
        for check in phase.checks:
            needs = f"  needs {', '.join(check.needs)}" if check.needs else ""
            lines.append(f"    {check.id:<28} {check.kind:<24} {check.criticality.value:<8} "
                         f"{check.timeout:>5g}s{needs}")
            written = _writes(check, checklist.vars)
            if written:
                verb = "would write (n/a: read_only)" if checklist.read_only else "writes"
                lines.append(f"      {verb}: {written}")
            if check.title:
                lines.append(f"      {check.title}")
    return "\n".join(lines)
