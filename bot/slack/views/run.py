"""A run in Slack: the parent message (progress line, then the verdict, or 'interrupted' with a
Re-run button) and one threaded reply per failed or warned check with its evidence."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from bot.announcements.events import RunReported
from bot.chatops.replies import WRITES_TITLE
from bot.slack.ids import ACTION_CHECK_CONFIRM, ACTION_RUN_RERUN
from bot.slack.views.blocks import (
    ITEM_LIMIT,
    SlackMessage,
    actions,
    bullet_list,
    button,
    clip,
    context,
    esc,
    esc_items,
    evidence_hint,
    header,
    page_link,
    section,
    user,
    when,
)
from bot.store import RunRecord
from checks.result import STATUS_ICON, CheckResult, Status
from checks.verdict import Decision, Verdict

NOTEWORTHY = (Status.FAIL, Status.ERROR, Status.WARN)
"""Statuses that get a threaded reply of their own; everything else is summarised in the parent."""

DECISION_ICON = {Decision.GO: "🟢", Decision.CONDITIONAL: "🟡", Decision.NO_GO: "🔴"}
EVIDENCE_LIMIT = 2400


def _counts(results: Sequence[CheckResult]) -> str:
    counts = Counter(r.status for r in results)
    return " · ".join(f"{STATUS_ICON[s]} {counts[s]} {s.value}" for s in Status if counts[s])


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else width
    return "▰" * filled + "▱" * (width - filled)


def _footer(run: RunRecord) -> str:
    return f"run `{esc(run.id)}` · requested by {user(run.requested_by)} · started {when(run.started_at)}"


def run_progress(run: RunRecord, results: Sequence[CheckResult], total: int) -> SlackMessage:
    done = len(results)
    line = f"⏳ *{esc(run.selector)}* — {done}/{total} checks done"
    if results:
        line += f"  ({_counts(results)})"
    return SlackMessage(
        text=esc(f"{run.selector}: running, {done}/{total} checks done"),
        blocks=[section(f"{line}\n`{_bar(done, total)}`"), context(_footer(run))], run_id=run.id,
    )


def run_verdict(run: RunRecord, results: Sequence[CheckResult], verdict: Verdict,
                wall_ms: float | None, *, evidence_note: str = "evidence in the thread") -> SlackMessage:
    icon = DECISION_ICON[verdict.decision]
    took = f" in {wall_ms / 1000:.1f}s" if wall_ms is not None else ""
    blocks = [
        header(f"{icon} {run.selector}: {verdict.decision.label}"),
        section(f"*{verdict.decision.label}* — risk {verdict.risk.value}. {len(results)} checks{took}: "
                f"{_counts(results)}"),
    ]
    if verdict.reasons:
        blocks.append(section("*Why*\n" + bullet_list(esc_items(verdict.reasons))))
    if verdict.conditions:
        blocks.append(section("*Conditions*\n" + bullet_list(esc_items(verdict.conditions))))
    if verdict.waived:
        blocks.append(section("*Waived*\n" + bullet_list(esc_items(verdict.waived))))
    if verdict.writes:
        blocks.append(section(f"*{WRITES_TITLE}*\n" + bullet_list(esc_items(verdict.writes))))
    problems = [r for r in results if r.status in NOTEWORTHY]
    if problems:
        lines = [f"{r.icon} `{esc(r.check_id)}` — {esc(r.summary, ITEM_LIMIT)}" for r in problems]
        blocks.append(section(f"*Needs attention* ({esc(evidence_note, 600)})\n" + bullet_list(lines, limit=15)))
    passed = [r.check_id for r in results if r.status is Status.PASS]
    if passed:
        blocks.append(section(clip(f"{STATUS_ICON[Status.PASS]} *Passed ({len(passed)})*: "
                                   + ", ".join(f"`{esc(c)}`" for c in passed), 1500)))
    others = [r for r in results if r.status in (Status.SKIP, Status.PENDING, Status.NA)]
    if others:
        skipped = "; ".join(f"`{esc(r.check_id)}` {esc(r.summary, ITEM_LIMIT)}" for r in others)
        title = f"{STATUS_ICON[Status.SKIP]} *Skipped or pending ({len(others)})*"
        blocks.append(section(clip(f"{title}: {skipped}", 1500)))
    page = page_link("run", run.id, "every check's evidence")  # the web view, when GOLIVE_PUBLIC_URL is set
    blocks.append(context(_footer(run) + (f" · {page}" if page else "")))
    return SlackMessage(text=esc(f"{run.selector}: {verdict.headline()} ({len(problems)} need attention)"),
                        blocks=blocks, run_id=run.id)


def run_report_message(event: RunReported) -> SlackMessage:
    """A scheduled run's verdict, posted by the bot itself (there is no progress message to update)."""
    run = RunRecord(id=event.run_id, checklist=event.checklist, selector=event.selector,
                    requested_by=event.requested_by, source="scheduler", status="finished", started_at=event.at,
                    finished_at=event.at, verdict=event.verdict, wall_ms=event.wall_ms)
    message = run_verdict(run, event.results, event.verdict, event.wall_ms)
    message.blocks.insert(0, context(f"🗓️ scheduled run of `{esc(event.selector)}`"))
    return message


def run_interrupted(run: RunRecord, results: Sequence[CheckResult], total: int) -> SlackMessage:
    done = f"{len(results)}/{total} checks had finished" + (f" ({_counts(results)})" if results else "")
    return SlackMessage(
        text=esc(f"{run.selector}: interrupted — the bot stopped before the run finished"),
        blocks=[
            header(f"⚠️ {run.selector}: interrupted"),
            section(f"The bot stopped while this run was going; {done}. No verdict was reached — run it again."),
            actions(button(f"Re-run {run.selector}", ACTION_RUN_RERUN, run.selector, "primary")),
            context(_footer(run)),
        ],
        run_id=run.id,
    )


def _evidence_text(result: CheckResult) -> str:
    lines = []
    for key, value in result.evidence.items():
        text = str(value)
        lines.append(f"{key}:\n{text}" if "\n" in text else f"{key}: {text}")
    return "\n".join(lines)


def confirm_value(run_id: str, check_id: str) -> str:
    return f"{run_id}|{check_id}"


def check_reply(result: CheckResult, run_id: str | None = None, *, evidence_limit: int = EVIDENCE_LIMIT,
                ) -> SlackMessage:
    """The threaded reply of one failed/warned check: what, how bad, and its (truncated) evidence; a
    check that needs a person (e.g. "is the Sentry event there?") gets a Confirm button."""
    title = f" — {esc(result.title)}" if result.title else ""
    blocks: list[Block] = [section(f"{result.icon} *{esc(result.check_id)}*{title}\n{result.criticality.value} · "
                      f"{result.status.value} · {result.duration_ms:.0f} ms\n{esc(result.summary)}")]
    raw = _evidence_text(result)
    if raw:
        escaped = esc(raw)
        shown = clip(escaped, evidence_limit)
        note = ""
        if shown != escaped:
            where = evidence_hint(run_id) if run_id else f"see `golive run {esc(result.check_id)}`"
            note = f"\n_evidence truncated: {len(raw):,} characters in full_ {where}"
        blocks.append(section(f"```{shown}```{note}"))
    if result.needs_confirmation and run_id:
        blocks.append(actions(button("Confirm", ACTION_CHECK_CONFIRM, confirm_value(run_id, result.check_id),
                                     "primary")))
        blocks.append(context("Any sign-off role member may confirm once they have seen it themselves."))
    return SlackMessage(text=esc(f"{result.check_id}: {result.status.value} — {result.summary}"), blocks=blocks,
                        run_id=run_id)
