"""One watch sample: the target's health probes, its JSON metrics document and (optionally) Prometheus
queries and the target's own /metrics page (bot.rollout.exposition), read concurrently. A source that
cannot be read leaves its metrics out and says why, so the rules can call them inconclusive instead of
guessing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from bot.rollout.exposition import ACCEPT, ExpositionReader, Outcome
from bot.rollout.models import ProbeSpec, WatchConfig
from checks.bounded import CapExceeded, request_capped, show_bytes
from checks.interpolate import MissingVariable, interpolate
from checks.jsonpath import MISSING, get_path, split_path
from checks.masking import mask, redact_url
from checks.result import utcnow


@dataclass
class ProbeResult:
    name: str
    url: str
    status: int | None
    error: str | None = None
    body: Any = None
    elapsed_ms: float = 0.0


@dataclass
class Sample:
    probes: dict[str, ProbeResult] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> {series/integration: value}
    unread: dict[str, str] = field(default_factory=dict)  # metric -> why no source could give it
    # metrics unread in this sample only (the first sample of a rate, no traffic): evaluable, so not blind
    waiting: set[str] = field(default_factory=set)
    derived: dict[str, str] = field(default_factory=dict)  # metric -> the expression computed from /metrics
    at: datetime = field(default_factory=utcnow)
    elapsed_ms: float = 0.0


def expand(data: Any, path: str) -> dict[str, Any]:
    """Values at `path`, where a `*` segment matches every key (or index): {"d365": 0.98, ...}.
    Without a wildcard the one value is keyed ''. Missing paths give {}."""
    parts = split_path(path)
    if "*" not in parts:
        value = get_path(data, path)
        return {} if value is MISSING else {"": value}
    star = parts.index("*")
    container = get_path(data, ".".join(parts[:star]))
    rest = ".".join(parts[star + 1:])
    if isinstance(container, Mapping):
        items: Sequence[tuple[str, Any]] = [(str(k), v) for k, v in container.items()]
    elif isinstance(container, list):
        items = [(str(i), v) for i, v in enumerate(container)]
    else:
        return {}
    found = {}
    for key, child in items:
        for sub, value in expand(child, rest).items():
            found[f"{key}.{sub}" if sub else key] = value
    return found


def _join(base_url: str, url: str) -> str:
    return url if "://" in url else base_url.rstrip("/") + "/" + url.lstrip("/")


def _why(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timed out"
    if isinstance(exc, CapExceeded):
        return f"the answer exceeds the {show_bytes(exc.limit)} cap ({exc.setting})"
    return mask(str(exc)) or type(exc).__name__


def _parse(body: bytes) -> Any:
    """The JSON document in `body`; ValueError when it is not one."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


class Collector:
    """Reads one sample from a target. The HTTP client is shared across samples (keep-alive); the /metrics
    reader keeps the previous page, which rates and quantiles are computed against. `clock` (seconds)
    times those pages: tests inject it, so a rate over a 30 s interval needs no 30 s wait. `env` is the
    target's settings, for `${VAR}` in the /metrics URL."""

    def __init__(self, config: WatchConfig, base_url: str, client: httpx.AsyncClient | None = None, *,
                 clock: Callable[[], float] = time.monotonic, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.base_url = base_url
        self.client = client or httpx.AsyncClient(timeout=config.timeout_seconds)
        self.clock = clock
        self.env = dict(env or {})
        # a metric the /metrics page computes is not also looked for in the JSON document's default paths
        computed = set(config.exposition.queries) - set(config.metrics) if config.exposition else set()
        self._json_paths = ({n: p for n, p in config.metric_paths().items() if n not in computed}
                            if config.metrics_url else {})
        self._queries = dict(config.prometheus.queries) if config.prometheus else {}
        self.exposition = (ExpositionReader(config.exposition, [r.metric for r in config.rules])
                           if config.exposition else None)

    def has_source(self, metric: str) -> bool:
        """Whether any configured source publishes `metric` (rules on metrics nobody publishes are dropped)."""
        return bool(self.sources_of(metric))

    def sources_of(self, metric: str) -> list[str]:
        """Which configured sources publish `metric`: `document`, `prometheus`, `exposition`."""
        return [name for name, has in (("document", metric in self._json_paths),
                                       ("prometheus", metric in self._queries),
                                       ("exposition", self.exposition is not None
                                        and self.exposition.publishes(metric))) if has]

    async def collect(self) -> Sample:
        started = time.perf_counter()
        probes, document, prometheus, exposition = await asyncio.gather(
            asyncio.gather(*(self._probe(p) for p in self.config.probes)), self._document(), self._prometheus(),
            self._exposition())
        sample = Sample(probes={p.name: p for p in probes})
        doc, doc_error = document
        for name, path in self._json_paths.items():
            if doc_error is not None:
                sample.unread[name] = doc_error
                continue
            values = expand(doc, path)
            if values:
                sample.metrics[name] = values
            else:
                sample.unread[name] = f"{path} is not in the metrics document"
        for name, (values, error) in prometheus.items():
            if values:
                sample.metrics.setdefault(name, {}).update(values)
                sample.unread.pop(name, None)
            elif name not in sample.metrics:
                sample.unread[name] = error or f"Prometheus returned no series for {name}"
        expressions = self.exposition.expressions if self.exposition else {}
        for name, outcome in exposition.items():
            if name in expressions:
                sample.derived[name] = expressions[name].text
            if outcome.value is not None:
                sample.metrics[name] = {"": outcome.value}
                sample.unread.pop(name, None)
                sample.waiting.discard(name)
            elif name not in sample.metrics:
                sample.unread[name] = outcome.why
                if outcome.evaluable:
                    sample.waiting.add(name)
        sample.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        return sample

    async def _probe(self, spec: ProbeSpec) -> ProbeResult:
        url = _join(self.base_url, spec.url)
        shown = redact_url(url)
        started = time.perf_counter()
        try:
            response, raw = await self._get(url)
        except (httpx.HTTPError, TimeoutError, CapExceeded) as exc:
            return ProbeResult(spec.name, shown, None, error=_why(exc),
                               elapsed_ms=(time.perf_counter() - started) * 1000)
        try:
            body = _parse(raw)
        except ValueError:
            body = None
        return ProbeResult(spec.name, shown, response.status_code, body=body,
                           elapsed_ms=(time.perf_counter() - started) * 1000)

    async def _document(self) -> tuple[Any, str | None]:
        if not self.config.metrics_url:
            return None, "no metrics_url configured"
        url = _join(self.base_url, self.config.metrics_url)
        try:
            response, raw = await self._get(url)
        except (httpx.HTTPError, TimeoutError, CapExceeded) as exc:
            return None, f"metrics {redact_url(url)} unreadable: {_why(exc)}"
        if response.status_code != 200:
            return None, f"metrics {redact_url(url)} answered {response.status_code}"
        try:
            return _parse(raw), None
        except ValueError:
            return None, f"metrics {redact_url(url)} is not JSON"

    def exposition_url(self) -> str:
        """The /metrics page's URL; ValueError (saying which) when it names a setting the target lacks."""
        spec = self.config.exposition
        assert spec is not None
        if spec.url_env:
            if not self.env.get(spec.url_env):
                raise ValueError(f"watch.exposition.url_env: {spec.url_env} is not set in the target's settings "
                                 "(set it there, or give watch.exposition.url instead)")
            return _join(self.base_url, self.env[spec.url_env])
        try:
            return _join(self.base_url, str(interpolate(spec.url, self.env)))
        except MissingVariable as exc:
            raise ValueError(f"watch.exposition.url: {exc}") from None

    async def _exposition(self) -> dict[str, Outcome]:
        """Scrape the target's /metrics and evaluate every expression against the previous scrape."""
        reader, spec = self.exposition, self.config.exposition
        if reader is None or spec is None:
            return {}
        try:
            url = self.exposition_url()
        except ValueError as exc:
            return reader.unreadable(str(exc))
        shown = redact_url(url)
        try:
            response, raw = await self._get(url, headers={"Accept": ACCEPT, **spec.headers})
        except (httpx.HTTPError, TimeoutError, CapExceeded) as exc:
            return reader.unreadable(f"metrics {shown} unreadable: {_why(exc)}")
        if response.status_code != 200:
            return reader.unreadable(f"metrics {shown} answered {response.status_code}")
        return await asyncio.to_thread(reader.read, raw, self.clock(), shown,
                                       response.headers.get("content-type", ""))

    async def _prometheus(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        prom = self.config.prometheus
        if prom is None:
            return {}
        names = list(prom.queries)
        answers = await asyncio.gather(*(self._query(prom.url, prom.headers, prom.queries[n]) for n in names))
        return dict(zip(names, answers, strict=True))

    async def _query(self, base: str, headers: dict[str, str], query: str) -> tuple[dict[str, Any], str | None]:
        url = base.rstrip("/") + "/api/v1/query"
        try:
            response, raw = await self._get(url, params={"query": query}, headers=headers)
            payload = _parse(raw)
        except (httpx.HTTPError, TimeoutError, CapExceeded, ValueError) as exc:
            return {}, f"Prometheus {redact_url(base)} unreadable: {_why(exc)}"
        if response.status_code != 200 or payload.get("status") != "success":
            return {}, f"Prometheus answered {response.status_code}: {payload.get('error', '')}".rstrip(": ")
        return prometheus_values(payload.get("data") or {}), None

    async def _get(self, url: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """One GET under the watch's timeout (for the whole answer, not per chunk) and its read cap."""
        return await request_capped(self.client, "GET", url, limit=self.config.max_body_bytes,
                                    setting="watch.max_body_bytes", total_timeout=self.config.timeout_seconds,
                                    timeout=self.config.timeout_seconds, **kwargs)

    async def close(self) -> None:
        await self.client.aclose()


def prometheus_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """An instant query's result as {series labels: float}; NaN/unparsable samples are left out."""
    kind, result = data.get("resultType"), data.get("result")
    if kind in ("scalar", "string") and isinstance(result, list) and len(result) == 2:
        rows: list[tuple[str, Any]] = [("", result[1])]
    elif kind == "vector" and isinstance(result, list):
        rows = [(",".join(f"{k}={v}" for k, v in sorted((item.get("metric") or {}).items()) if k != "__name__"),
                 (item.get("value") or [None, None])[1]) for item in result]
    else:
        rows = []
    values = {}
    for key, raw in rows:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            continue
        if number == number:  # not NaN
            values[key] = number
    return values
