"""The demo target: a small aiohttp app shaped like the service a go-live checklist watches.

It answers the endpoints the go-live plan probes (health, metrics, leads, scan, sales summary,
legacy routes) and can be switched at run time, from Python (`TargetState`) or over HTTP
(`POST /__control`), into the failure modes the checks must recognise: degraded readiness, a
service that is down, slow answers, rate limiting and a share of 500s. Its metrics are computed
from the traffic it actually served, so a watch over it sees what the checks did: as a JSON document
(/healthz/metrics) and as real prometheus_client counters and histograms (/metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

Mode = Literal["healthy", "degraded", "down", "slow", "ratelimited", "error_rate"]
MODES: tuple[str, ...] = get_args(Mode)

LEGACY_PATHS = ("/leads", "/scan")
CONTROL_PATH = "/__control"
PROMETHEUS_PATH = "/metrics"
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

# What the service looks like when nothing is wrong; the numbers the demo cannot derive from traffic.
BASELINE_METRICS: dict[str, Any] = {
    "cache_hit_rate_idle": 0.9,  # before the first cacheable lookup, a warm service
    "partner_center_success_rate": 0.99,
    "d365_success_rate": 0.98,
    "dns_timeout_rate": 0.01,
    "whois_timeout_rate": 0.02,
    "task_failure_rate": 0.01,
}

KNOWN_DOMAINS = ("example.com", "contoso.com", "fabrikam.com", "northwind.io", "adatum.net")
_LEADS = [
    {"domain": domain, "company": domain.split(".")[0].title(), "score": 90 - 7 * i,
     "segment": ("enterprise", "smb", "mid-market")[i % 3], "m365": i % 2 == 0}
    for i, domain in enumerate(KNOWN_DOMAINS)
] + [
    {"domain": f"lead{i:02d}.example", "company": f"Lead {i:02d}", "score": 50 - i,
     "segment": "smb", "m365": i % 3 == 0}
    for i in range(1, 21)
]


class PrometheusMetrics:
    """What a service instrumented with prometheus_client serves on /metrics: a request counter by method
    and status, and a histogram of request durations (prometheus_client's default buckets). A registry of
    its own, never the process-wide one, so several demo targets in one process do not share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "HTTP requests served, by method and status",
                                ["method", "status"], registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "Time to answer an HTTP request",
                                  registry=self.registry)

    def observe(self, method: str, status: int, seconds: float) -> None:
        self.requests.labels(method=method, status=str(status)).inc()
        self.duration.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


@dataclass
class TargetState:
    """The target's switchable behaviour plus the traffic it has served (thread-safe).

    Settings are plain attributes (`state.mode = "slow"` works); `set()` validates, `reset()` returns
    to a healthy, empty service. The server thread and a test thread share this object.
    """

    mode: Mode = "healthy"
    delay_ms: float = 500.0  # slow mode: added to every answer
    error_fraction: float = 0.2  # error_rate mode: share of API answers that are 500
    failing: Literal["redis", "db"] = "redis"  # degraded mode: the dependency that is down
    legacy: Literal["removed", "supported"] = "removed"
    api_key: str = "demo-api-key"
    rate_limit: int = 20  # requests per window per client on the API; 0 disables the limiter
    rate_window_s: float = 10.0
    environment: str = "production"
    cold_query_ms: float = 60.0  # an uncached leads query costs this much
    cache_ttl_s: float = 300.0
    known_domains: tuple[str, ...] = KNOWN_DOMAINS
    metric_overrides: dict[str, Any] = field(default_factory=dict)
    control_token: str | None = None

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._defaults = {f.name: getattr(self, f.name) for f in fields(self)}
        self._defaults["metric_overrides"] = dict(self.metric_overrides)
        self._validate()
        self._clear_traffic()

    # -- settings ---------------------------------------------------------------------------------

    def set(self, **changes: Any) -> TargetState:
        """Change settings at run time; unknown names or bad values raise ValueError, nothing changes."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        with self._lock:
            before = {name: getattr(self, name) for name in changes}
            for name, value in changes.items():
                if name == "known_domains":
                    value = tuple(value)
                if name == "metric_overrides":
                    value = dict(value or {})
                setattr(self, name, value)
            try:
                self._validate()
            except (ValueError, TypeError) as exc:
                for name, value in before.items():
                    setattr(self, name, value)
                raise ValueError(str(exc)) from None
        return self

    def set_mode(self, mode: Mode, **changes: Any) -> TargetState:
        """Switch mode, e.g. `set_mode("slow", delay_ms=800)`; extra settings change in the same step."""
        return self.set(mode=mode, **changes)

    def override_metrics(self, values: Mapping[str, Any] | None = None, **more: Any) -> TargetState:
        """Pin metric values by dotted path (`{"integrations.d365.success_rate": 0.5}`); None clears all."""
        with self._lock:
            if values is None and not more:
                self.metric_overrides = {}
            else:
                self.metric_overrides = {**self.metric_overrides, **(values or {}), **more}
        return self

    def reset(self) -> TargetState:
        """Back to the settings it was created with, an empty cache and no recorded traffic."""
        with self._lock:
            for name, value in self._defaults.items():
                setattr(self, name, dict(value) if isinstance(value, dict) else value)
            self._clear_traffic()
        return self

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.failing not in ("redis", "db"):
            raise ValueError("failing must be 'redis' or 'db'")
        if self.legacy not in ("removed", "supported"):
            raise ValueError("legacy must be 'removed' or 'supported'")
        if not 0.0 <= float(self.error_fraction) <= 1.0:
            raise ValueError("error_fraction must be between 0 and 1")
        for name in ("delay_ms", "cold_query_ms", "cache_ttl_s"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must not be negative")
        if int(self.rate_limit) < 0 or float(self.rate_window_s) <= 0:
            raise ValueError("rate_limit must be >= 0 and rate_window_s > 0")
        if not isinstance(self.metric_overrides, dict):
            raise ValueError("metric_overrides must be a mapping of dotted path -> value")

    def snapshot(self) -> dict[str, Any]:
        """The current settings (secrets left out) and traffic counters, as /__control shows them."""
        with self._lock:
            settings = {f.name: getattr(self, f.name) for f in fields(self)
                        if f.name not in ("api_key", "control_token")}
            settings["known_domains"] = list(self.known_domains)
            settings["metric_overrides"] = dict(self.metric_overrides)
            return {"settings": settings, "traffic": {
                "requests_total": self._requests, "errors_total": self._errors,
                "rate_limited_total": self._limited, "cache_hits": self._hits, "cache_misses": self._misses,
            }}

    # -- traffic ----------------------------------------------------------------------------------

    def _clear_traffic(self) -> None:
        with self._lock:
            self._records: dict[str, dict[str, Any]] = {str(lead["domain"]): dict(lead) for lead in _LEADS}
            self._started = time.monotonic()
            self._requests = 0
            self._errors = 0
            self._limited = 0
            self._hits = 0
            self._misses = 0
            self._latencies: deque[float] = deque(maxlen=2000)
            self._conn_errors = {"db": 0, "redis": 0}
            self._api_calls = 0  # for the deterministic error_rate sequence
            self._windows: dict[str, tuple[float, int]] = {}
            self._cache: dict[str, float] = {}
            # a new registry: to a scraper, counters that start again from zero, as after a restart
            self.prometheus = PrometheusMetrics()

    def record(self, status: int, latency_ms: float, method: str = "GET") -> None:
        """Count one served request toward the metrics (the JSON document and the /metrics page)."""
        with self._lock:
            self._requests += 1
            self._errors += status >= 500
            self._limited += status == 429
            self._latencies.append(latency_ms)
            self.prometheus.observe(method, status, latency_ms / 1000)

    def exposition(self) -> bytes:
        """The /metrics page: prometheus_client's text exposition format of the traffic served."""
        with self._lock:
            return self.prometheus.exposition()

    def note_dependency_use(self) -> None:
        """Each request touches DB and Redis; in degraded mode the failing one counts an error."""
        if self.mode == "degraded":
            with self._lock:
                self._conn_errors[self.failing] += 1

    def take_rate_slot(self, client: str) -> float | None:
        """Fixed-window limiter: None when allowed, else seconds until the client's window resets.

        The window opens at the client's first request (not on the clock's multiples), so a burst
        that fits in one window is always judged as one: tests and demos get the same answer every time.
        """
        limit, window = int(self.rate_limit), float(self.rate_window_s)
        if limit <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            start, count = self._windows.get(client, (now, 0))
            if now - start >= window:
                start, count = now, 0
            count += 1
            self._windows[client] = (start, count)
        if count > limit:
            return max(0.0, start + window - now)
        return None

    def next_call_fails(self) -> bool:
        """Error_rate mode: the n-th API call fails when it crosses a multiple of 1/fraction (exact share)."""
        with self._lock:
            n = self._api_calls
            self._api_calls += 1
        f = float(self.error_fraction)
        return math.floor((n + 1) * f) > math.floor(n * f)

    def cache_lookup(self, key: str) -> bool:
        """True on a hit; a miss stores the key for cache_ttl_s."""
        now = time.monotonic()
        with self._lock:
            expires = self._cache.get(key)
            if expires is not None and expires > now:
                self._hits += 1
                return True
            self._misses += 1
            self._cache[key] = now + float(self.cache_ttl_s)
            return False

    # -- records: the service's real data, which a scan changes ------------------------------------------

    def leads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(lead) for lead in self._records.values()]

    def lead(self, domain: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._records.get(domain)
            return dict(found) if found is not None else None

    def scan(self, domain: str) -> dict[str, Any]:
        """A (re)scan, as Hunter does it: the lead's score is reset until the scan finishes (never, here),
        and an unknown domain becomes a new lead. This is what a smoke check must never do to a real lead."""
        with self._lock:
            lead = self._records.get(domain)
            if lead is None:
                lead = {"domain": domain, "company": domain.split(".")[0].title(), "score": 0,
                        "segment": "unscored", "m365": False}
                self._records[domain] = lead
            lead["score"] = 0
            lead["scan_status"] = "queued"
            return dict(lead)

    def delete_lead(self, domain: str) -> bool:
        with self._lock:
            return self._records.pop(domain, None) is not None

    def records_bytes(self) -> bytes:
        """Every record, serialised the same way each time: a byte comparison shows any change."""
        with self._lock:
            return json.dumps(sorted(self._records.values(), key=lambda r: r["domain"]), sort_keys=True).encode()

    def metrics(self) -> dict[str, Any]:
        """The /healthz/metrics document: traffic-derived where possible, then overrides applied."""
        with self._lock:
            latencies = sorted(self._latencies)
            lookups = self._hits + self._misses
            data: dict[str, Any] = {
                "service": "hunter-demo",
                "environment": self.environment,
                "uptime_s": round(time.monotonic() - self._started, 1),
                "requests_total": self._requests,
                "errors_total": self._errors,
                "rate_limited_total": self._limited,
                "error_rate": round(self._errors / self._requests, 4) if self._requests else 0.0,
                "latency_p50_ms": _percentile(latencies, 0.50),
                "latency_p95_ms": _percentile(latencies, 0.95),
                "cache": {
                    "hits": self._hits, "misses": self._misses,
                    "hit_rate": round(self._hits / lookups, 4) if lookups
                    else BASELINE_METRICS["cache_hit_rate_idle"],
                },
                "integrations": {
                    "partner_center": {"success_rate": BASELINE_METRICS["partner_center_success_rate"]},
                    "d365": {"success_rate": BASELINE_METRICS["d365_success_rate"]},
                },
                "timeouts": {"dns_rate": BASELINE_METRICS["dns_timeout_rate"],
                             "whois_rate": BASELINE_METRICS["whois_timeout_rate"]},
                "tasks": {"failure_rate": BASELINE_METRICS["task_failure_rate"]},
                "db": {"status": self._dep_status("db"),
                       "connection_errors": self._conn_errors["db"]},
                "redis": {"status": self._dep_status("redis"),
                          "connection_errors": self._conn_errors["redis"]},
            }
            for path, value in self.metric_overrides.items():
                _set_path(data, path, value)
            return data

    def _dep_status(self, name: str) -> str:
        return "error" if self.mode == "degraded" and self.failing == name else "ok"


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    index = max(0, math.ceil(q * len(ordered)) - 1)
    return round(ordered[index], 1)


def _set_path(data: MutableMapping[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: MutableMapping[str, Any] = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, MutableMapping):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


# -- endpoints -------------------------------------------------------------------------------------

TARGET: web.AppKey[TargetState] = web.AppKey("target", TargetState)
STOPPING: web.AppKey[asyncio.Event] = web.AppKey("stopping", asyncio.Event)

# golive tags every request of one run with this header (checks.kinds.http.RUN_HEADER). The demo gives each
# run a rate-limit window of its own, so the burst of smoke.rate_limit, which uses up its run's window,
# never starves the next run: a second `golive run` right after the first gets the same verdict.
RUN_HEADER = "X-Golive-Run"


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status,
                        content_type="application/json", headers=headers)


def _state(request: web.Request) -> TargetState:
    return request.app[TARGET]


async def pause(ms: float, stopping: asyncio.Event) -> None:
    """Sleep that ends at once when the server is stopping, so a hung answer never blocks shutdown."""
    if ms <= 0 or stopping.is_set():
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), ms / 1000)


async def _read_json(request: web.Request) -> Any:
    """The body as JSON; raises ValueError (JSONDecodeError, UnicodeDecodeError) when it is not."""
    return json.loads((await request.read()).decode())


async def live(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    state = _state(request)
    parts = {name: {"status": state._dep_status(name)} for name in ("db", "redis")}
    for name, part in parts.items():
        if part["status"] != "ok":
            part["error"] = "connection refused" if name == "redis" else "could not connect to server"
    healthy = all(p["status"] == "ok" for p in parts.values())
    body = {"status": "ok" if healthy else "degraded", "environment": state.environment, **parts}
    return _json(body, status=200 if healthy else 503)


async def startup(request: web.Request) -> web.Response:
    return _json({"status": "ok", "started": True})


async def metrics(request: web.Request) -> web.Response:
    return _json(_state(request).metrics())


async def prometheus_metrics(request: web.Request) -> web.Response:
    return web.Response(body=_state(request).exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def leads(request: web.Request) -> web.Response:
    state = _state(request)
    raw = request.query.get("limit", "10")
    try:
        limit = int(raw)
    except ValueError:
        return _json({"detail": "limit must be an integer"}, status=400)
    if not 1 <= limit <= 100:
        return _json({"detail": "limit must be between 1 and 100"}, status=400)
    key = "leads?" + "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
    hit = state.cache_lookup(key)
    if not hit:
        await pause(state.cold_query_ms, request.app[STOPPING])  # the "database" answers an uncached query slowly
    records = state.leads()
    items = records[:limit]
    return _json({"items": items, "count": len(items), "total": len(records), "limit": limit},
                 headers={"X-Cache": "HIT" if hit else "MISS"})


async def scan(request: web.Request) -> web.Response:
    state = _state(request)
    if request.method in ("GET", "HEAD"):
        domain = request.query.get("domain", "").strip().lower()
        if not _DOMAIN.match(domain):
            return _json({"detail": "query parameter domain must be a valid domain"}, status=400)
        known = domain in state.known_domains
        return _json({"domain": domain, "status": "scanned" if known else "not_scanned"})
    if request.headers.get("x-api-key") != state.api_key:
        return _json({"detail": "missing or invalid API key"}, status=401)
    try:
        payload = await _read_json(request)
    except ValueError:
        payload = None
    domain = str(payload.get("domain", "")).strip().lower() if isinstance(payload, dict) else ""
    if not _DOMAIN.match(domain):
        return _json({"detail": "body must be JSON with a valid `domain`"}, status=400)
    state.scan(domain)  # a write: the lead's score is reset until the scan completes
    return _json({"status": "queued", "domain": domain}, status=202)


async def delete_lead(request: web.Request) -> web.Response:
    """DELETE /api/v1/leads/{domain}: removes a lead (golive's smoke check removes its synthetic one)."""
    state = _state(request)
    if request.headers.get("x-api-key") != state.api_key:
        return _json({"detail": "missing or invalid API key"}, status=401)
    domain = request.match_info["domain"].lower()
    if not state.delete_lead(domain):
        return _json({"detail": f"no lead {domain}"}, status=404)
    return web.Response(status=204)


async def sales_summary(request: web.Request) -> web.Response:
    state = _state(request)
    domain = request.match_info["domain"].lower()
    if domain not in state.known_domains:
        return _json({"detail": f"no sales summary for {domain}"}, status=404)
    lead = state.lead(domain)
    score = lead["score"] if lead else 50
    return _json({"domain": domain, "score": score, "segment": lead["segment"] if lead else "smb",
                  "next_action": "call" if score >= 75 else "nurture"})


async def control(request: web.Request) -> web.Response:
    """GET shows the state; POST changes it: {"mode": "slow", "delay_ms": 800, "metrics": {...}}."""
    state = _state(request)
    if state.control_token and request.headers.get("x-control-token") != state.control_token:
        return _json({"detail": "bad control token"}, status=403)
    if request.method == "POST":
        try:
            payload = await _read_json(request)
        except ValueError:
            return _json({"detail": "body must be a JSON object"}, status=400)
        if not isinstance(payload, dict):
            return _json({"detail": "body must be a JSON object"}, status=400)
        try:
            apply_control(state, payload)
        except (ValueError, TypeError) as exc:
            return _json({"detail": str(exc)}, status=400)
    return _json(state.snapshot())


def apply_control(state: TargetState, payload: Mapping[str, Any]) -> None:
    """Apply a /__control body: `reset`, `clear_cache`, `metrics` (dict merges, null clears), settings."""
    payload = dict(payload)
    if payload.pop("reset", False):
        state.reset()
    if payload.pop("clear_cache", False):
        state.clear_cache()
    if "metrics" in payload:
        overrides = payload.pop("metrics")
        if overrides is not None and not isinstance(overrides, dict):
            raise ValueError("metrics must be an object of dotted path -> value, or null")
        state.override_metrics(overrides)
    if payload:
        state.set(**payload)


async def legacy(request: web.Request) -> web.Response:
    """Legacy routes answer as the recorded decision says: 404 when removed, the v1 answer when kept."""
    state = _state(request)
    if state.legacy == "removed":
        return _json({"detail": "Not Found"}, status=404)
    path = request.path
    if path == "/leads":
        return await leads(request)
    if path == "/scan":
        return await scan(request)
    return await sales_summary(request)


# -- behaviour switch (a middleware, so delays and failures wrap every route alike) -----------------


def rate_limit_key(request: web.Request) -> str:
    """Whose window a request counts in: the client's, per golive run when it says which (RUN_HEADER)."""
    client = request.remote or "unknown"
    run = request.headers.get(RUN_HEADER, "").strip()
    return f"{client} run:{run[:64]}" if run else client


@web.middleware
async def mode_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Applies the mode, the rate limiter and error injection, and records traffic for the metrics."""
    path = request.path
    if path == CONTROL_PATH:
        return await handler(request)
    state = request.app[TARGET]
    started = time.perf_counter()
    status = 500  # what the metrics count when no answer leaves (an exception, a cancelled request)
    try:
        response = await _dispatch(request, handler, state, path)
        status = response.status
        return response
    except web.HTTPException as exc:  # aiohttp's own 404 and 405
        status = exc.status
        raise
    finally:
        if not path.startswith("/healthz/") and path != PROMETHEUS_PATH:
            state.record(status, (time.perf_counter() - started) * 1000, request.method)


async def _dispatch(request: web.Request, handler: Handler, state: TargetState, path: str) -> web.StreamResponse:
    if state.mode == "slow":
        await pause(float(state.delay_ms), request.app[STOPPING])
    if state.mode == "down" and path != "/healthz/live":
        return _json({"status": "error", "detail": "service unavailable (demo: down)"}, status=500)
    if path != "/healthz/live":
        state.note_dependency_use()
    if path.startswith("/api/") or path in LEGACY_PATHS or path.startswith("/leads/"):
        if state.mode == "ratelimited":
            return _json({"detail": "rate limit exceeded"}, status=429, headers={"Retry-After": "10"})
        wait = state.take_rate_slot(rate_limit_key(request))
        if wait is not None:
            return _json({"detail": "rate limit exceeded"}, status=429,
                         headers={"Retry-After": str(max(1, math.ceil(wait)))})
        if state.mode == "error_rate" and state.next_call_fails():
            return _json({"detail": "internal server error (demo: error_rate)"}, status=500)
    return await handler(request)


def create_app(state: TargetState | None = None, stopping: asyncio.Event | None = None) -> web.Application:
    """The aiohttp app; `state` is shared with whoever wants to switch it, setting `stopping` ends long pauses."""
    app = web.Application(middlewares=[mode_middleware])
    app[TARGET] = state or TargetState()
    app[STOPPING] = stopping or asyncio.Event()
    routes = app.router
    routes.add_get("/healthz/live", live)
    routes.add_get("/healthz/ready", ready)
    routes.add_get("/healthz/startup", startup)
    routes.add_get("/healthz/metrics", metrics)
    routes.add_get(PROMETHEUS_PATH, prometheus_metrics)
    routes.add_get("/api/v1/leads", leads)
    routes.add_get("/api/v1/scan", scan)
    routes.add_post("/api/v1/scan", scan)
    routes.add_get("/api/v1/leads/{domain}/sales-summary", sales_summary)
    routes.add_delete("/api/v1/leads/{domain}", delete_lead)
    routes.add_get("/leads", legacy)
    routes.add_get("/scan", legacy)
    routes.add_post("/scan", legacy)
    routes.add_get("/leads/{domain}/sales-summary", legacy)
    routes.add_get(CONTROL_PATH, control)
    routes.add_post(CONTROL_PATH, control)
    return app
