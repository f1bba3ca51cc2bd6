"""`openapi`: the service's own API description (FastAPI serves `/openapi.json`) against the checklist.

1. Every endpoint the checklist probes (`http`, `smoke.*`, `api.*` checks) must be in the document with
   that method; a wrong one fails naming the nearest real route, because runbooks guess routes wrong.
2. `sweep: true` also calls every GET route without path parameters and reports each 5xx and each 4xx
   other than 401/403: broken routes nobody wrote a check for. It only sends GETs, with the target's
   headers; it touches nothing else. Each route gets `route_timeout` seconds and the sweep as a whole
   `sweep_budget` (always inside the check's own timeout): a slow route is reported as one finding, and
   routes the budget did not reach are listed, so neither can hide what the sweep found. A swept body is
   read only up to `max_body_bytes` (it is only quoted).
"""

from __future__ import annotations

import asyncio
import difflib
import fnmatch
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator

from checks.bounded import MIB, cap_description
from checks.interpolate import MissingVariable, interpolate
from checks.kinds.http import (
    body_cap_field,
    body_error,
    fetch,
    make_client,
    normalize_method,
    request_headers,
    show_url,
    status_list,
)
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome

DEFAULT_MAX_DOCUMENT_BYTES = 8 * MIB

OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBING_KINDS = ("http", "smoke.cache", "smoke.rate_limit", "api.v1", "api.legacy")


class Probe(Params):
    method: str = "GET"
    url: str

    _method = field_validator("method")(normalize_method)


class OpenApiParams(Params):
    url: str = Field("/openapi.json", description="where the service serves its OpenAPI document")
    endpoints: list[Probe] | None = Field(
        None, description="[{method, url}] to look up; default: every endpoint this checklist's checks probe")
    ignore: list[str] = Field(default_factory=list,
                              description="paths (glob) not expected in the document, e.g. /healthz/* or "
                                          "'GET /api/v1/scan' for one method")
    sweep: bool = Field(False, description="call every GET route without path parameters")
    sweep_exclude: list[str] = Field(default_factory=list, description="paths (glob) the sweep skips")
    allowed_status: list[int] = Field(default_factory=lambda: [401, 403],
                                      description="4xx answers the sweep accepts (auth required)")
    concurrency: int = Field(4, ge=1, le=32)
    route_timeout: float = Field(5.0, gt=0, description="seconds one swept route may take; slower is reported")
    sweep_budget: float | None = Field(
        None, gt=0, description="seconds for the whole sweep (default and ceiling: the check's timeout less a "
                                "margin); routes not reached are listed")
    max_document_bytes: int = Field(DEFAULT_MAX_DOCUMENT_BYTES, gt=0, description=cap_description(
        "the OpenAPI document", DEFAULT_MAX_DOCUMENT_BYTES))
    max_body_bytes: int = body_cap_field()

    @field_validator("endpoints", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        """A bare string item is a GET."""
        if isinstance(value, list):
            return [{"url": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("allowed_status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return status_list(value)


def _expects_success(item: dict[str, Any]) -> bool:
    """A probe that only accepts errors (404, 405) checks a route's absence: not looked up."""
    statuses = status_list(item.get("expect_status", [200]))
    return not isinstance(statuses, list) or any(isinstance(s, int) and s < 400 for s in statuses)


def _probes_of(kind: str, params: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if kind in ("http", "smoke.cache", "smoke.rate_limit"):
        if isinstance(params.get("url"), str) and (kind != "http" or _expects_success(params)):
            yield str(params.get("method") or "GET").upper(), params["url"]
    elif kind == "api.v1":
        for item in params.get("urls") or []:
            if isinstance(item, str):
                yield "GET", item
            elif isinstance(item, dict) and isinstance(item.get("url"), str) and _expects_success(item):
                yield str(item.get("method") or "GET").upper(), item["url"]
    elif kind == "api.legacy":
        method = str(params.get("method") or "GET").upper()
        if isinstance(params.get("v1_url"), str):
            yield method, params["v1_url"]
        if params.get("decision") == "supported" and isinstance(params.get("legacy_url"), str):
            yield method, params["legacy_url"]


def checklist_probes(ctx: CheckContext) -> list[tuple[str, str, str]]:
    """(check id, method, path) for every endpoint on the target the checklist's checks call."""
    found: list[tuple[str, str, str]] = []
    for spec in ctx.checklist.all_checks():
        if spec.kind not in PROBING_KINDS or spec.id == ctx.check.id:
            continue
        try:
            params = interpolate(spec.params, ctx.env)
        except MissingVariable:
            continue  # that check reports its own missing variable
        for method, url in _probes_of(spec.kind, params):
            path = _target_path(ctx, url)
            if path is not None:
                found.append((spec.id, method, path))
    return found


def _target_path(ctx: CheckContext, url: str) -> str | None:
    """The path part of a URL on the target (None for a third-party URL)."""
    full = ctx.url(url)
    base = urlsplit(ctx.base_url)
    parts = urlsplit(full)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        return None
    path = parts.path
    prefix = base.path.rstrip("/")
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix):]
    return path or "/"


class Routes:
    """The document's operations, matched the way the service routes: `{param}` is one path segment."""

    def __init__(self, document: dict[str, Any]) -> None:
        prefix = ""
        servers = document.get("servers")
        if isinstance(servers, list) and servers and isinstance(servers[0], dict):
            server = str(servers[0].get("url") or "")
            if server.startswith("/"):
                prefix = server.rstrip("/")
        self.operations: list[tuple[str, str]] = []
        paths = document.get("paths")
        for path, item in (paths.items() if isinstance(paths, dict) else []):
            if isinstance(item, dict):
                for method in item:
                    if method.lower() in OPERATIONS:
                        self.operations.append((method.upper(), prefix + path))
        self._patterns = {path: re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "/?$")
                          for _, path in self.operations}

    def has(self, method: str, path: str) -> bool:
        return any(m == method and self._patterns[p].match(path) for m, p in self.operations)

    def nearest(self, method: str, path: str) -> str | None:
        if not self.operations:
            return None

        wanted = [s for s in path.split("/") if s]

        def score(op: tuple[str, str]) -> tuple[bool, int, float, bool]:
            """Same route (another method) first, then the most leading segments in common, then spelling."""
            common = 0
            for mine, theirs in zip(wanted, [s for s in op[1].split("/") if s], strict=False):
                if mine != theirs and not theirs.startswith("{"):
                    break
                common += 1
            return (bool(self._patterns[op[1]].match(path)), common,
                    difflib.SequenceMatcher(None, path, op[1]).ratio(), op[0] == method)

        best = max(self.operations, key=score)
        return f"{best[0]} {best[1]}"

    def sweepable(self) -> list[str]:
        return sorted({p for m, p in self.operations if m == "GET" and "{" not in p})


def _matches(path: str, globs: list[str], method: str = "") -> bool:
    """`/healthz/*` matches any method; `GET /api/v1/scan` only that one."""
    for glob in globs:
        wanted, _, pattern = glob.partition(" ") if " " in glob.strip() else ("", "", glob)
        if (not wanted or wanted.upper() == method) and fnmatch.fnmatchcase(path, pattern.strip()):
            return True
    return False


@check_kind("openapi", OpenApiParams)
async def check_openapi(ctx: CheckContext, p: OpenApiParams) -> Outcome:
    """The endpoints the checklist probes exist in the service's OpenAPI document; optionally sweep its GETs."""
    started = time.monotonic()
    doc_url = ctx.url(p.url)
    async with make_client(ctx, max_connections=p.concurrency, max_body_bytes=p.max_document_bytes) as client:
        client.cap_setting = "max_document_bytes"
        answer = await fetch(client, "GET", doc_url, headers=request_headers(ctx, doc_url))
        client.max_body_bytes, client.cap_setting = p.max_body_bytes, "max_body_bytes"  # sweep bodies: quoted only
        where = f"GET {show_url(doc_url, ctx)}"
        if answer.response is None:
            return Outcome.failed(f"no OpenAPI document: {answer.error} — {where}", url=doc_url)
        parsed, document = answer.json()
        if answer.status != 200 or not parsed or not isinstance(document, dict) \
                or not isinstance(document.get("paths"), dict):
            what = f"HTTP {answer.status}" if answer.status != 200 else "not an OpenAPI document (no `paths`)"
            return Outcome.failed(f"no OpenAPI document: {what} — {where}", url=doc_url,
                                  body_excerpt=answer.excerpt(200))
        routes = Routes(document)
        probes = ([("endpoints", e.method, _target_path(ctx, e.url) or e.url) for e in p.endpoints]
                  if p.endpoints is not None else checklist_probes(ctx))
        missing: list[str] = []
        rows: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for check_id, method, path in probes:
            if (method, path) in seen or _matches(path, p.ignore, method):
                continue
            seen.add((method, path))
            ok = routes.has(method, path)
            row: dict[str, Any] = {"check": check_id, "method": method, "path": path, "in_api": ok}
            if not ok:
                nearest = routes.nearest(method, path)
                row["nearest"] = nearest
                missing.append(f"{method} {path} is not in the API" + (f" ({nearest} is)" if nearest else "")
                               + f" [{check_id}]")
            rows.append(row)
        evidence: dict[str, Any] = {"url": doc_url, "routes": len(routes.operations), "probes": rows}
        broken: list[str] = []
        if p.sweep:
            targets = [path for path in routes.sweepable()
                       if not _matches(path, p.sweep_exclude) and ctx.url(path) != doc_url]
            budget = sweep_budget(ctx.check.timeout, p.sweep_budget) - (time.monotonic() - started)
            swept, unswept = await sweep(ctx, client, targets, p, budget)
            broken = [r["problem"] for r in swept if "problem" in r]
            evidence["sweep"] = swept
            if unswept:
                evidence["not_swept"] = unswept
    problems = missing + broken
    if problems and evidence.get("not_swept"):
        problems.append(_not_reached(evidence["not_swept"]))
    if problems:
        head = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
        return Outcome.failed(head, **evidence)
    if not rows and not p.sweep:
        return Outcome.warned("nothing looked up: no check of this checklist probes an endpoint on the target "
                              "(list `endpoints` or set `sweep: true`)", **evidence)
    summary = f"{len(rows)} probed endpoint(s) are in the API ({len(routes.operations)} operations)"
    if p.sweep:
        summary += f"; {len(evidence['sweep'])} GET route(s) swept, none broken"
        if evidence.get("not_swept"):
            return Outcome.warned(summary + f"; {_not_reached(evidence['not_swept'])}", **evidence)
    return Outcome.passed(summary, **evidence)


def sweep_budget(check_timeout: float, wanted: float | None) -> float:
    """Seconds for the whole sweep: what the checklist asks, but always done before the check's own timeout
    (which would otherwise replace every finding with "timed out")."""
    ceiling = max(0.5, min(check_timeout * 0.8, check_timeout - 2.0))
    return min(wanted, ceiling) if wanted is not None else ceiling


def _not_reached(paths: list[str]) -> str:
    shown = ", ".join(paths[:3]) + (f" (+{len(paths) - 3} more)" if len(paths) > 3 else "")
    return f"{len(paths)} route(s) not swept within the sweep budget: {shown}"


async def sweep(ctx: CheckContext, client: httpx.AsyncClient, targets: list[str], p: OpenApiParams,
                budget: float) -> tuple[list[dict[str, Any]], list[str]]:
    """(results, paths not reached): each route under `route_timeout`, all of them under `budget` seconds."""
    limit = asyncio.Semaphore(p.concurrency)
    results: dict[str, dict[str, Any]] = {}

    async def call(path: str) -> None:
        url = ctx.url(path)
        async with limit:
            try:
                async with asyncio.timeout(p.route_timeout):
                    got = await fetch(client, "GET", url, headers=request_headers(ctx, url), truncate=True)
            except TimeoutError:
                results[path] = {"path": path, "status": None, "timed_out": True,
                                 "problem": f"GET {path} → no answer within {p.route_timeout:g}s (route_timeout)"}
                return
        result: dict[str, Any] = {"path": path, "status": got.status}
        if got.error:
            result["problem"] = f"GET {path} → {got.error}"
        elif got.status is not None and (got.status >= 500 or (
                400 <= got.status < 500 and got.status not in p.allowed_status)):
            ok_json, body = got.json()
            cause = body_error(body) if ok_json else None
            result["problem"] = f"GET {path} answers {got.status}" + (f": {cause}" if cause else "")
            result["body_excerpt"] = got.excerpt(200)
        results[path] = result

    tasks = [asyncio.ensure_future(call(path)) for path in targets]
    if tasks:
        await asyncio.wait(tasks, timeout=max(0.0, budget))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return [results[t] for t in targets if t in results], [t for t in targets if t not in results]
