"""The web view's pages: each gathers its facts with the functions chat and the terminal already use
(bot.runs.status, bot.rollout.records, bot.signoff.service, the store's audit verification), masks
them with the same masker as chat, and renders a Jinja2 template with autoescape on. Synchronous
(store access): the routes call `render_page` in a worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader

from bot.web.links import FRESH_LINK_HINT, Linker

MAX_VALUE_CHARS = 100_000
"""One evidence value shown at most this long (a 1 MB line from a hostile target stays a readable page);
the rest is named, with the command that prints it whole."""


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("bot.web", "templates"), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True)
    env.globals["fresh_link_hint"] = FRESH_LINK_HINT
    return env


@dataclass
class Page:
    status: int
    html: str


def _when(at: datetime | str | None) -> str:
    if at is None:
        return "never"
    if isinstance(at, str):
        return at[:19].replace("T", " ") + " UTC"
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _value(value: Any) -> dict[str, Any]:
    text = value if isinstance(value, str) else _json(value)
    cut = len(text) - MAX_VALUE_CHARS
    return {"text": text[:MAX_VALUE_CHARS] if cut > 0 else text, "cut": max(cut, 0)}


def _json(value: Any) -> str:
    import json

    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def render(template: str, *, premasked: bool = False, **context: Any) -> str:
    """Render with every string of `context` masked (unless the page masked its target text itself:
    `premasked`, for the run page, whose evidence is most of the work); links and charts added after."""
    from checks.masking import masker

    linker = context.pop("linker", None)
    charts = context.pop("_charts", [])  # drawn by bot.web.svg from numbers and our own labels
    masked = context if premasked else masker.mask_data(context)
    return environment().get_template(template).render(**masked, links=_Links(linker, context.get("checklist")),
                                                       charts=charts)


class _Links:
    """Fresh signed links to the other pages, for navigation (None when links are off)."""

    def __init__(self, linker: Linker | None, checklist: str | None) -> None:
        self.linker, self.checklist = linker, checklist

    def to(self, kind: Any, object_id: str | None = None) -> str | None:
        target = object_id or self.checklist
        return self.linker.url(kind, target) if self.linker and target else None


# -- the pages ---------------------------------------------------------------------------------------------
def status_page(store: Any, checklist: Any, linker: Linker | None) -> Page:
    from bot.runs.status import build_status, deployment_facts

    overview = build_status(store, checklist)
    verdict = overview.verdict
    phases = [{"id": p.id, "title": p.title, "counts": p.counts, "total": p.total, "last_run": _when(p.last_run_at),
               "checks": [{"id": spec.id, "title": spec.title or spec.id, "status": r.status.value if r else "pending",
                           "summary": r.summary if r else "not run yet", "criticality": spec.criticality.value}
                          for spec, r in p.checks]} for p in overview.phases]
    runs = [{"id": r.id, "selector": r.selector, "status": r.status, "at": _when(r.started_at),
             "verdict": r.verdict.decision.label if r.verdict else "-", "by": r.requested_by or "?"}
            for r in store.runs(checklist=checklist.name, limit=10)]
    html = render("status.html", linker=linker, checklist=overview.checklist, title=f"{overview.checklist} — status",
                  decision=verdict.decision.value, decision_label=verdict.decision.label, risk=verdict.risk.value,
                  reasons=verdict.reasons, conditions=verdict.conditions, waived=verdict.waived, notes=verdict.notes,
                  phases=phases, runs=runs, missing_signoffs=overview.missing_signoffs,
                  rejected=[f"{role} by {who}" for role, who in overview.signoffs.rejected.items()],
                  waivers=[{"check_id": w.check_id, "by": w.by, "until": _when(w.until), "reason": w.reason}
                           for w in overview.waivers],
                  rollout_phase=overview.rollout_phase or "not started", facts=deployment_facts(overview),
                  warnings=overview.warnings, generated=_when(overview.generated_at))
    return Page(200, html)


def run_page(store: Any, checklist: Any, run_id: str, linker: Linker | None) -> Page:
    # Masked here, once, what came from the target or a person: summaries, the verdict's reasons and each
    # evidence dict (by its keys too: a `token` key loses its value, as in chat). The rest is the
    # checklist's own ids and the engine's enums.
    from checks.masking import masker

    mask = masker.mask
    run = store.get_run(run_id)
    if run is None:
        return not_found(f"no run {run_id!r} in the store")
    results = store.results(run_id)
    order = {"fail": 0, "error": 1, "warn": 2, "pending": 3, "skip": 4, "pass": 5}
    checks = [{"id": mask(r.check_id), "status": r.status.value, "summary": mask(r.summary),
               "criticality": r.criticality.value,
               "evidence": [{"label": mask(str(k)), **_value(v)} for k, v in masker.mask_data(r.evidence).items()]}
              for r in sorted(results, key=lambda r: order.get(r.status.value, 9))]
    verdict = run.verdict
    html = render("run.html", premasked=True, linker=linker, checklist=mask(run.checklist),
                  title=mask(f"run {run.id} — {run.selector}"),
                  run={"id": mask(run.id), "selector": mask(run.selector), "status": run.status,
                       "by": mask(run.requested_by or "?"), "started": _when(run.started_at),
                       "finished": _when(run.finished_at)},
                  decision=verdict.decision.value if verdict else "", risk=verdict.risk.value if verdict else "",
                  decision_label=verdict.decision.label if verdict else "no verdict yet",
                  reasons=[mask(r) for r in verdict.reasons] if verdict else [],
                  conditions=[mask(c) for c in verdict.conditions] if verdict else [], checks=checks)
    return Page(200, html)


def signoff_page(store: Any, checklist: Any, request_id: str, linker: Linker | None) -> Page:
    from bot.signoff.service import SignoffService

    service = SignoffService(store, checklist)
    request = service.get(request_id)
    if request is None or request.checklist != checklist.name:
        return not_found(f"no sign-off request {request_id!r}")
    stage = service.stage(request.stage)
    roles = []
    for role in stage.roles:
        d = request.decisions.get(role.id)
        roles.append({"title": role.title, "decision": d.decision if d else "waiting", "by": d.user_id if d else "",
                      "at": _when(d.decided_at) if d else "", "reason": d.reason if d else ""})
    history = [{"at": _when(row["at"]), "actor": row["actor"], "action": row["action"], "detail": str(row["detail"])}
               for row in reversed(store.audit_log(subject=request_id, limit=200))]
    html = render("signoff.html", linker=linker, checklist=checklist.name,
                  title=f"sign-off {stage.title or request.stage}",
                  request={"id": request.id, "stage": stage.title or request.stage, "by": request.requested_by,
                           "at": _when(request.created_at), "run_id": request.run_id},
                  roles=roles, history=history)
    return Page(200, html)


def rollout_page(store: Any, checklist: Any, linker: Linker | None) -> Page:
    from bot.rollout.charts import stored_points, watch_series
    from bot.rollout.records import RolloutRecords
    from bot.web.svg import series_svg

    records = RolloutRecords(store, checklist.name)
    phase_id = records.phase()
    phase = checklist.rollout.phase(phase_id) if phase_id and checklist.rollout else None
    points = stored_points(store, checklist.name)
    charts = [series_svg(s, i) for i, s in enumerate(watch_series(points, phase.criteria if phase else None))] \
        if points else []
    incidents = [{"id": i["id"], "level": i["level"], "phase": i["phase"], "rules": i["rules"], "message": i["message"],
                  "opened": _when(i["opened_at"]), "resolved": _when(i["resolved_at"]) if i["resolved_at"] else "open"}
                 for i in records.incidents()]
    html = render("rollout.html", linker=linker, checklist=checklist.name, title=f"{checklist.name} — rollout",
                  phase=phase_id or "not started", paused=bool(records.paused()),
                  phases=[p.id for p in checklist.rollout.phases] if checklist.rollout else [],
                  timeline=[{"at": _when(m["at"]), "kind": m["kind"], "text": m["text"]} for m in records.timeline()],
                  incidents=incidents, samples=len(points),
                  window=f"{points[0].get('at', '')[11:16]} to {points[-1].get('at', '')[11:16]} UTC" if points else "",
                  _charts=charts)
    return Page(200, html)


def record_page(store: Any, checklist: Any, linker: Linker | None) -> Page:
    from bot.runs.status import build_status, deployment_facts

    overview = build_status(store, checklist)
    html = render("record.html", linker=linker, checklist=checklist.name,
                  title=f"{checklist.name} — deployment record", facts=deployment_facts(overview),
                  decision=overview.verdict.decision.value, decision_label=overview.verdict.decision.label,
                  rollout_phase=overview.rollout_phase or "not started",
                  timeline=overview.timeline.splitlines(), generated=_when(overview.generated_at))
    return Page(200, html)


def audit_page(store: Any, checklist: Any, linker: Linker | None, *, limit: int = 300) -> Page:
    count, broken = store.verify_audit()
    rows = [{"seq": r["seq"], "at": _when(r["at"]), "actor": r["actor"], "action": r["action"],
             "subject": r["subject"], "detail": str(r["detail"]), "hash": str(r["hash"])[:12]}
            for r in store.audit_log(limit=limit)]
    html = render("audit.html", linker=linker, checklist=checklist.name, title="audit chain", count=count,
                  broken=str(broken) if broken else "", rows=rows, limit=limit)
    return Page(200, html)


def denied_page(reason: str) -> Page:
    return Page(403, render("denied.html", title="link expired" if reason == "expired" else "link not valid",
                            reason=reason))


def not_found(what: str) -> Page:
    return Page(404, render("denied.html", title="not found", reason="missing", what=what))


def render_page(kind: str, object_id: str, store: Any, checklist: Any, linker: Linker | None) -> Page:
    """The page a (verified) link points to. Status, rollout, record and audit are per checklist."""
    if kind == "run":
        return run_page(store, checklist, object_id, linker)
    if kind == "signoff":
        return signoff_page(store, checklist, object_id, linker)
    if object_id != checklist.name:
        return not_found(f"this server serves the checklist {checklist.name!r}, not {object_id!r}")
    if kind == "status":
        return status_page(store, checklist, linker)
    if kind == "rollout":
        return rollout_page(store, checklist, linker)
    if kind == "record":
        return record_page(store, checklist, linker)
    return audit_page(store, checklist, linker)
