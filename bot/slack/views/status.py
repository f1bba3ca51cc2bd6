"""`/golive status`: one message with every phase's counts and age, the verdict and why, missing
sign-offs and the rollout phase."""

from __future__ import annotations

from bot.chatops.replies import WRITES_TITLE
from bot.runs.status import PhaseStatus, StatusOverview, age, deployment_facts
from bot.slack.views.blocks import (
    SlackMessage,
    bullet_list,
    context,
    divider,
    esc,
    esc_items,
    header,
    page_link,
    section,
    user,
    when,
)
from bot.slack.views.run import DECISION_ICON
from checks.result import STATUS_ICON, Status

WEB_PAGES = (("status", "Status"), ("rollout", "Rollout"), ("record", "Deployment record"), ("audit", "Audit chain"))


def _phase_line(phase: PhaseStatus) -> str:
    c = phase.counts
    failed = c.get("fail", 0) + c.get("error", 0)
    pending = phase.pending + c.get("skip", 0)
    return (f"*{esc(phase.id)}* {esc(phase.title)} — {STATUS_ICON[Status.PASS]} {c.get('pass', 0)} · "
            f"{STATUS_ICON[Status.FAIL]} {failed} · {STATUS_ICON[Status.WARN]} {c.get('warn', 0)} · "
            f"{STATUS_ICON[Status.PENDING]} {pending} of {phase.total} · last run {age(phase.last_run_at)}")


def status_message(overview: StatusOverview) -> SlackMessage:
    verdict = overview.verdict
    blocks = [
        header(f"{overview.checklist} — go-live status"),
        section(f"{DECISION_ICON[verdict.decision]} *{verdict.decision.label}* — risk {verdict.risk.value}\n"
                + bullet_list(esc_items(verdict.reasons), limit=8)),
    ]
    if verdict.conditions:
        blocks.append(section("*Conditions*\n" + bullet_list(esc_items(verdict.conditions), limit=12)))
    if verdict.waived:
        blocks.append(section("*Waived*\n" + bullet_list(esc_items(verdict.waived), limit=12)))
    if verdict.writes:
        blocks.append(section(f"*{WRITES_TITLE}*\n" + bullet_list(esc_items(verdict.writes), limit=12)))
    blocks.append(divider())
    blocks.append(section("*Phases*\n" + "\n".join(_phase_line(p) for p in overview.phases)))
    missing = ", ".join(esc(m) for m in overview.missing_signoffs) or "none"
    rejected = [f"{esc(role)} by {esc(who)}" for role, who in overview.signoffs.rejected.items()]
    signoff_text = f"*Missing sign-offs:* {missing}"
    if rejected:
        signoff_text += "\n*Rejected:* " + "; ".join(rejected)
    blocks.append(section(signoff_text))
    rollout = f"*Rollout phase:* {esc(overview.rollout_phase or 'not started')}"
    facts = deployment_facts(overview)
    if facts:
        rollout += "\n" + "\n".join(f"{esc(label)}: {esc(value)}" for label, value in facts)
    blocks.append(section(rollout))
    if overview.chart:
        blocks.append(section(f"*Watch*\n```{esc(overview.chart)}```"))
    if overview.timeline:
        blocks.append(section(f"*Timeline*\n```{esc(overview.timeline)}```"))
    if overview.running:
        blocks.append(section("*Running now:* " + ", ".join(
            f"`{esc(r.selector)}` by {user(r.requested_by)}" for r in overview.running)))
    for warning in overview.warnings:  # degraded mode (bot.diagnostics.degradations), e.g. Redis down
        blocks.append(context(f":warning: {esc(warning)}"))
    pages = [page_link(kind, overview.checklist, title) for kind, title in WEB_PAGES]
    if all(pages):  # fresh links to the web view each time (/golive status is how people renew them)
        blocks.append(context("Open in a browser: " + " · ".join(p for p in pages if p)))
    blocks.append(context(f"as of {when(overview.generated_at)} · `/golive run &lt;phase&gt;` to refresh a phase"))
    missing_text = f"; missing sign-offs: {', '.join(overview.missing_signoffs)}" if overview.missing_signoffs else ""
    return SlackMessage(text=esc(f"{overview.checklist}: {verdict.headline()}{missing_text}"), blocks=blocks)
