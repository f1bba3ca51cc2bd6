"""Adaptive Cards for what `bot.chatops` answers: status, runs (live and final), sign-off cards, help,
history and the one-line outcomes. Rendering only: every fact shown comes from the reply object."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import singledispatch
from typing import Any

from bot.chatops.replies import (
    WRITES_TITLE,
    CheckConfirmed,
    Denied,
    Failed,
    HelpReply,
    HistoryReply,
    Notice,
    RunBusy,
    ServicesOverview,
    SignoffDecided,
    SignoffOpened,
)
from bot.rollout.models import RolloutResult
from bot.runs.service import RunOutcome
from bot.runs.status import StatusOverview, age, deployment_facts
from bot.signoff.service import SignoffRequest
from bot.store import RunRecord
from bot.teams import cardkit as ck
from bot.teams.ids import REASON_INPUT, VERB_CONFIRM, VERB_SIGNOFF
from checks.result import STATUS_ICON, CheckResult, Status
from checks.spec import SignoffStage
from checks.verdict import Decision, Verdict

Names = Callable[[str], str]
"""User id → display name (Teams ids are opaque Entra object ids); unknown ids come back unchanged."""

DECISION_COLOR: dict[Decision, ck.Color] = {Decision.GO: "good", Decision.CONDITIONAL: "warning",
                                            Decision.NO_GO: "attention"}
DECISION_STYLE: dict[Decision, ck.Style] = {Decision.GO: "good", Decision.CONDITIONAL: "warning",
                                            Decision.NO_GO: "attention"}
PROBLEMS = (Status.FAIL, Status.ERROR, Status.WARN)


def same(user_id: str) -> str:
    return user_id


@singledispatch
def render(reply: Any, names: Names = same) -> ck.Card:
    """The card for any ChatOps reply; types another area adds fall back to their text."""
    message = getattr(reply, "message", None) or str(reply)
    return ck.card([ck.text(message)], fallback=message)


# -- verdicts and status ---------------------------------------------------------------------------------
def verdict_blocks(verdict: Verdict) -> list[ck.Element]:
    items = [ck.text(f"**{verdict.decision.label}** — risk {verdict.risk.value}", size="Medium",
                     weight="Bolder", color=DECISION_COLOR[verdict.decision])]
    items += ck.bullets(verdict.reasons)
    if verdict.conditions:
        items.append(ck.text("Conditions", weight="Bolder", spacing="Small"))
        items += ck.bullets(verdict.conditions)
    if verdict.waived:
        items.append(ck.text("Waived", weight="Bolder"))
        items += ck.bullets(verdict.waived)
    if verdict.writes:
        items.append(ck.text(WRITES_TITLE, weight="Bolder", spacing="Small"))
        items += ck.bullets(verdict.writes)
    return [ck.container(items, style=DECISION_STYLE[verdict.decision])]


def counts_line(counts: dict[str, int]) -> str:
    return " · ".join(f"{STATUS_ICON[Status(k)]} {v} {k}" for k, v in counts.items() if v) or "no checks"


WEB_PAGES = (("status", "Status"), ("rollout", "Rollout"), ("record", "Deployment record"), ("audit", "Audit chain"))


@render.register
def status_card(reply: StatusOverview, names: Names = same) -> ck.Card:
    body = [ck.heading(f"golive status — {reply.checklist}")]
    if reply.warnings:  # the bot itself runs degraded (e.g. Redis down): say so before anything else
        body.append(ck.container([ck.text(f"⚠️ {w}", color="warning") for w in reply.warnings], style="warning"))
    body += verdict_blocks(reply.verdict)
    body.append(ck.facts((f"{p.title} ({p.id})", f"{counts_line(p.counts)} — last run {age(p.last_run_at)}")
                         for p in reply.phases))
    if reply.missing_signoffs:
        body.append(ck.text("Missing sign-offs", weight="Bolder", separator=True))
        body += ck.bullets(reply.missing_signoffs)
    extra = [("Rollout phase", reply.rollout_phase or "none")]
    extra += [("Running", f"{r.selector} (run {r.id}, by {names(r.requested_by)})") for r in reply.running]
    extra += deployment_facts(reply)
    body.append(ck.facts(extra))
    for title, text in (("Watch", reply.chart), ("Timeline", reply.timeline)):
        if text:
            body += [ck.text(title, weight="Bolder", separator=True), *ck.monospace(text)]
    pages = [ck.page_link(kind, reply.checklist, label) for kind, label in WEB_PAGES]
    if all(pages):  # fresh links to the web view each time (`golive status` is how people renew them)
        body.append(ck.text("Open in a browser: " + " · ".join(p for p in pages if p), separator=True))
    return ck.card(body, fallback=f"{reply.checklist}: {reply.verdict.headline()}")


# -- runs ------------------------------------------------------------------------------------------------
def result_blocks(results: Sequence[CheckResult], *, limit: int = 12, run_id: str | None = None) -> list[ck.Element]:
    """Failed, errored and warned checks one by one with their evidence; passes only summarised. A check
    that needs a person's confirmation gets a Confirm button when the run is known."""
    problems = [r for r in results if r.status in PROBLEMS]
    blocks: list[ck.Element] = []
    for result in problems[:limit]:
        lines = [ck.text(f"{result.icon} **{result.check_id}** ({result.criticality.value}) — {result.summary}")]
        evidence = ", ".join(f"{k}={v}" for k, v in result.evidence.items() if k != "output_tail")
        if evidence:
            lines.append(ck.text(ck.clip(evidence, 400), subtle=True, spacing="None"))
        if result.needs_confirmation and run_id:
            lines.append(ck.action_set([ck.execute("Confirm", VERB_CONFIRM, {"run": run_id, "check": result.check_id},
                                                   style="positive")]))
        blocks.append(ck.container(lines, separator=True))
    if len(problems) > limit:
        more = (ck.page_link("run", run_id, "the run's page") or f"`golive status --run {run_id}`") if run_id \
            else "`golive status`"
        blocks.append(ck.text(f"… and {len(problems) - limit} more problems; {more} lists them", subtle=True))
    passed = [r.check_id for r in results if r.status is Status.PASS]
    if passed:
        shown = ", ".join(passed[:10]) + (f" and {len(passed) - 10} more" if len(passed) > 10 else "")
        blocks.append(ck.text(f"{STATUS_ICON[Status.PASS]} {len(passed)} passed: {shown}", subtle=True))
    return blocks


def run_progress_card(run: RunRecord, results: Sequence[CheckResult], total: int, names: Names = same) -> ck.Card:
    """The live card of a run still going: how far it got, and any problem so far."""
    done = len(results)
    body = [ck.heading(f"Running {run.selector}"),
            ck.text(f"{done}/{total} checks finished — requested by {names(run.requested_by)}", subtle=True),
            *result_blocks(results, run_id=run.id)]
    return ck.card(body, fallback=f"Running {run.selector}: {done}/{total}", run_id=run.id)


def run_started_card(selector: str, requested_by: str, names: Names = same) -> ck.Card:
    body = [ck.heading(f"Running {selector}"), ck.text(f"Starting — requested by {names(requested_by)}", subtle=True)]
    return ck.card(body, fallback=f"Running {selector}")


def run_interrupted_card(run: RunRecord, results: Sequence[CheckResult], names: Names = same) -> ck.Card:
    """A run whose process died: what had finished, and how to run it again."""
    body = [ck.heading(f"Run {run.selector} — interrupted", color="warning"),
            ck.text(f"The bot stopped before this run finished ({len(results)}/{len(run.expected)} checks done); "
                    f"run it again with `golive run {run.selector}`.", subtle=True),
            *result_blocks(results)]
    return ck.card(body, fallback=f"{run.selector}: interrupted", run_id=run.id)


@render.register
def run_card(reply: RunOutcome, names: Names = same) -> ck.Card:
    report, run = reply.report, reply.run
    body = [ck.heading(f"Run {run.selector} — {report.verdict.decision.label}",
                       color=DECISION_COLOR[report.verdict.decision]),
            ck.facts([("Checks", f"{len(report.results)}: {counts_line(report.verdict.counts)}"),
                      ("Wall time", f"{report.wall_ms / 1000:.1f} s"),
                      ("Requested by", names(run.requested_by)), ("Run", run.id)]),
            *verdict_blocks(report.verdict), *result_blocks(report.results, run_id=run.id)]
    return ck.card(body, fallback=f"{run.selector}: {report.verdict.headline()}", run_id=run.id)


def status_hint(run_id: str) -> str:
    return f"full evidence: {ck.page_link('run', run_id, 'open the run') or f'`golive status --run {run_id}`'}"


def run_summary_card(reply: RunOutcome, names: Names = same) -> ck.Card:
    """The smallest final card of a run: its verdict and where the evidence is. Used when the full card
    could not be posted, so the run's message never stays "Running"."""
    report, run = reply.report, reply.run
    body = [ck.heading(f"Run {run.selector} — {report.verdict.decision.label}",
                       color=DECISION_COLOR[report.verdict.decision]),
            ck.text(f"{len(report.results)} checks: {counts_line(report.verdict.counts)} — requested by "
                    f"{names(run.requested_by)}", subtle=True),
            ck.text(f"The full result could not be shown here; it is recorded ({status_hint(run.id)})."),
            ]
    return ck.card(body, fallback=f"{run.selector}: {report.verdict.headline()}", run_id=run.id)


@render.register
def confirmed_card(reply: CheckConfirmed, names: Names = same) -> ck.Card:
    """The run's card after a person confirmed a check: its verdict as it now stands."""
    run = reply.run
    if reply.verdict is None:
        return run_progress_card(run, reply.results, len(run.expected), names)
    body = [ck.heading(f"Run {run.selector} — {reply.verdict.decision.label}",
                       color=DECISION_COLOR[reply.verdict.decision]),
            ck.text(f"{reply.check_id} confirmed by {names(run_confirmer(reply))}", subtle=True),
            *verdict_blocks(reply.verdict), *result_blocks(reply.results, run_id=run.id)]
    return ck.card(body, fallback=f"{run.selector}: {reply.verdict.headline()}", run_id=run.id)


def run_confirmer(reply: CheckConfirmed) -> str:
    result = next((r for r in reply.results if r.check_id == reply.check_id), None)
    return str(result.evidence.get("confirmed_by", "")) if result else ""


@render.register
def busy_card(reply: RunBusy, names: Names = same) -> ck.Card:
    who = f" (run {reply.running.id}, requested by {names(reply.running.requested_by)} {reply.where})" \
        if reply.running else ""
    message = f"{reply.selector} is already running{who}; it will end with the verdict."
    if reply.overlap:
        message = (f"{reply.selector} shares checks with {reply.overlap}, which is running{who}; nothing was "
                   "started. Run it again once that run has finished.")
    return ck.card([ck.text(message, color="warning")], fallback=message)


@render.register
def history_card(reply: HistoryReply, names: Names = same) -> ck.Card:
    rows = [(f"{r.selector} ({r.id})", f"{r.verdict.decision.label if r.verdict else r.status} — "
             f"{age(r.started_at)} by {names(r.requested_by) or r.source}") for r in reply.runs]
    body = [ck.heading(f"Recent runs — {reply.checklist}"), ck.facts(rows) if rows else ck.text("No runs yet.")]
    return ck.card(body, fallback=f"{len(rows)} recent runs")


# -- sign-offs -------------------------------------------------------------------------------------------
def signoff_card(request: SignoffRequest, stage: SignoffStage, names: Names = same, *,
                 notice: str | None = None) -> ck.Card:
    """One block per required role: its decision, or the buttons to make one (reject asks for a reason)."""
    decided = sum(1 for r in stage.roles if r.id in request.decisions)
    body: list[ck.Element] = [ck.heading(f"Sign-off: {stage.title or request.stage} ({request.stage})"),
                              ck.text(f"{decided}/{len(stage.roles)} decided — requested by "
                                      f"{names(request.requested_by)}", subtle=True)]
    if notice:
        body.append(ck.text(notice, color="warning"))
    for role in stage.roles:
        data = {"request": request.id, "role": role.id}
        decision = request.decisions.get(role.id)
        if decision is None:
            line = ck.text(f"⏳ **{role.title}** — waiting")
            reason_id = f"{REASON_INPUT}.{role.id}"
            buttons = [ck.execute("Approve", VERB_SIGNOFF, {**data, "decision": "approve"}, style="positive"),
                       ck.show_card("Reject…", [ck.text_input(reason_id, "Why reject?", "what must change first")],
                                    [ck.execute("Reject", VERB_SIGNOFF, {**data, "decision": "reject"},
                                                style="destructive")])]
        else:
            verb = "approved" if decision.decision == "approve" else "rejected"
            icon = STATUS_ICON[Status.PASS] if decision.decision == "approve" else STATUS_ICON[Status.FAIL]
            line = ck.text(f"{icon} **{role.title}** — {verb} by {names(decision.user_id)}")
            buttons = [ck.execute("Withdraw", VERB_SIGNOFF, {**data, "decision": "withdraw"})]
        why = [ck.plain(f"Reason: {decision.reason}")] if decision is not None and decision.reason else []
        body.append(ck.container([line, *why, ck.action_set(buttons)], separator=True))
    if page := ck.page_link("signoff", request.id, "Open the sign-off page"):  # who decided what and when
        body.append(ck.text(page, subtle=True))
    return ck.card(body, fallback=f"Sign-off {request.stage}: {decided}/{len(stage.roles)} decided")


def signoff_moved_card(request: SignoffRequest, stage: SignoffStage, names: Names = same) -> ck.Card:
    """An older card of a request once a newer one is posted: a pointer, no buttons."""
    title = stage.title or request.stage
    return ck.card([ck.heading(f"Sign-off: {title} ({request.stage})"),
                    ck.text("This card moved: the current sign-off card is further down in this conversation. "
                            "Decisions made so far are kept there.", color="warning")],
                   fallback=f"Sign-off {request.stage}: this card moved to a newer one")


@render.register
def signoff_opened_card(reply: SignoffOpened, names: Names = same) -> ck.Card:
    return signoff_card(reply.request, reply.stage, names)


@render.register
def signoff_decided_card(reply: SignoffDecided, names: Names = same) -> ck.Card:
    notice = None if reply.recorded else "That decision had already been made; this is the card as it stands."
    return signoff_card(reply.request, reply.stage, names, notice=notice)


# -- one-liners ------------------------------------------------------------------------------------------
@render.register
def help_card(reply: HelpReply, names: Names = same) -> ck.Card:
    body: list[ck.Element] = [ck.heading("golive")]
    if reply.unknown:
        body.append(ck.text(f"I did not understand `{reply.unknown}`.", color="warning"))
    if reply.problem:
        body.append(ck.text(reply.problem, color="warning"))
    body.append(ck.facts((f"golive {verb}", what) for verb, what in reply.usage))
    if reply.services:
        body.append(ck.text(f"Services: {', '.join(reply.services)}. In a service's release channel the service may "
                            f"be left out; elsewhere name it, e.g. `golive status {reply.services[0]}`.", subtle=True))
    body.append(ck.text("In a channel, @mention the bot first: `@golive status`.", subtle=True))
    return ck.card(body, fallback="golive commands: " + ", ".join(v for v, _ in reply.usage))


@render.register
def denied_card(reply: Denied, names: Names = same) -> ck.Card:
    message = f"⛔ Not allowed: {reply.reason}"
    return ck.card([ck.text(message, color="attention")], fallback=message)


@render.register
def failed_card(reply: Failed, names: Names = same) -> ck.Card:
    return ck.card([ck.text(reply.message, color="attention")], fallback=reply.message)


@render.register
def services_overview_card(reply: ServicesOverview, names: Names = same) -> ck.Card:
    head = reply.message.split("\n", 1)[0]
    body = [ck.text(head, weight="Bolder"), *ck.bullets([line.lstrip("• ") for line in reply.lines], limit=60)]
    return ck.card(body, fallback=reply.message)


@render.register
def notice_card(reply: Notice, names: Names = same) -> ck.Card:
    return ck.card([ck.text(reply.message)], fallback=reply.message)


@render.register
def rollout_result_card(reply: RolloutResult, names: Names = same) -> ck.Card:
    summary = reply.message or f"{reply.action} {reply.phase or ''}".strip()
    if (reply.reasons or reply.flags) and ": " in summary:  # the details follow as bullets and facts
        summary = summary.split(": ", 1)[0]
    headline = f"{'✅' if reply.ok else '⛔'} {summary}"
    body = [ck.text(headline, weight="Bolder", color="good" if reply.ok else "attention"), *ck.bullets(reply.reasons)]
    if reply.flags:
        body.append(ck.facts(reply.flags.items()))
    return ck.card(body, fallback=headline)
