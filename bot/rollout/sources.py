"""What `golive doctor` says about the rollout watch: each metrics source it is configured with (the JSON
metrics document, a Prometheus server, the target's own /metrics page) and the rules each one can
evaluate, then one sample against the target for the rules that are blind. A team adopting golive sees
before a rollout which alerts can fire at all, and from where."""

from __future__ import annotations

from collections.abc import Mapping

from bot.diagnostics.doctor_report import Finding
from bot.rollout.metrics import Collector
from bot.rollout.models import WatchConfig
from bot.rollout.rules import blind_rules, rules_for
from checks.masking import mask, redact_url
from checks.spec import Criteria

ITEM = "watch sources"


def _where(collector: Collector, source: str) -> str:
    config = collector.config
    if source == "document":
        return f"metrics document {config.metrics_url}"
    if source == "prometheus":
        return f"Prometheus {redact_url(config.prometheus.url) if config.prometheus else ''}".rstrip()
    spec = config.exposition
    where = "" if spec is None else f"${{{spec.url_env}}}" if spec.url_env else spec.url
    return f"/metrics page {where}".rstrip()


def source_lines(collector: Collector, criteria: Criteria | None = None) -> tuple[list[str], list[str]]:
    """`<source>: rule, rule…` per configured source, and the rules no source publishes."""
    rules = rules_for(collector.config, criteria or Criteria())
    by_source: dict[str, list[str]] = {}
    orphans: list[str] = []
    for rule in rules:
        sources = collector.sources_of(rule.metric)
        if not sources:
            orphans.append(rule.id)
        for source in sources:
            by_source.setdefault(source, []).append(rule.id)
    configured = [s for s, on in (("document", bool(collector.config.metrics_url)),
                                  ("prometheus", collector.config.prometheus is not None),
                                  ("exposition", collector.config.exposition is not None)) if on]
    lines = [f"{_where(collector, s)}: {', '.join(by_source.get(s, [])) or 'no rule'}" for s in configured]
    return lines, orphans


async def watch_source_findings(config: WatchConfig, target_url: str | None,
                                env: Mapping[str, str] | None = None) -> list[Finding]:
    """One line per source with the rules it can evaluate, a warning for rules no source publishes, and
    the rules one sample shows blind (the counter or path is missing on the target). Without a target
    URL (the demo, started only with a run) the configuration alone is reported."""
    collector = Collector(config, target_url or "http://127.0.0.1", env=env)
    try:
        lines, orphans = source_lines(collector)
        findings = [Finding.ok(ITEM, line) for line in lines]
        if orphans:
            findings.append(Finding.warn(ITEM, f"no source publishes the metric of {', '.join(orphans)}: these "
                                         "rules never alert", "map them in rollout.watch.metrics, "
                                         "prometheus.queries or exposition.queries, or list them in disable_rules"))
        if target_url is None:
            return findings
        try:
            sample = await collector.collect()
        except Exception as exc:  # the doctor reports, it never crashes on a target
            return [*findings, Finding.warn(ITEM, f"could not sample {redact_url(target_url)}: {mask(str(exc))}")]
        if not sample.metrics and all(p.status is None for p in sample.probes.values()):
            why = next((p.error for p in sample.probes.values() if p.error), None) or next(
                iter(sample.unread.values()), "no answer")
            return [*findings, Finding.warn(ITEM, f"{redact_url(target_url)} did not answer ({why}): which rules "
                                            "are blind is not known", "start the service, then run doctor again")]
        blind = [b for b in blind_rules(sample, rules_for(config, Criteria()), collector.has_source)
                 if b.rule not in orphans]
        if blind:
            findings.append(Finding.warn(ITEM, f"{len(blind)} rule(s) blind against {redact_url(target_url)}: "
                                         + "; ".join(b.line() for b in blind),
                                         "publish the metric, fix its path or expression, or list the rule in "
                                         "rollout.watch.optional_rules"))
        return findings
    finally:
        await collector.close()
