"""`api.v1` and `api.legacy`: the versioned API answers, and the recorded legacy decision holds.

The go-live plan asks for a decision on legacy routes, removed (404) or kept (200, same answer as
v1); this kind turns that decision into something checked on every run instead of a note.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from checks.jsonpath import describe, first_difference
from checks.kinds.http import (
    Answer,
    body_cap_field,
    fetch,
    make_client,
    normalize_method,
    request_headers,
    show_statuses,
    show_url,
    status_list,
    writes,
)
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome


class Endpoint(Params):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    url: str
    method: str = "GET"
    expect_status: list[int] = Field(default_factory=lambda: [200])
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json")

    _method = field_validator("method")(normalize_method)

    @field_validator("expect_status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return status_list(value)


class V1Params(Params):
    urls: list[Endpoint] = Field(min_length=1, description="[{url, method, expect_status}]")
    headers: dict[str, str] = Field(default_factory=dict, description="sent with every request")
    max_body_bytes: int = body_cap_field()

    @field_validator("urls", mode="before")
    @classmethod
    def _plain_urls(cls, value: Any) -> Any:
        """A bare string item means GET expecting 200."""
        if isinstance(value, list):
            return [{"url": item} if isinstance(item, str) else item for item in value]
        return value


def _v1_writes(params: Mapping[str, Any]) -> bool:
    urls = params.get("urls")
    return isinstance(urls, list) and any(isinstance(e, Mapping) and writes(e.get("method")) for e in urls)


def _v1_written(params: Mapping[str, Any]) -> str | None:
    urls = params.get("urls")
    if not isinstance(urls, list):
        return None
    sent = [f"{str(e.get('method')).upper()} {e.get('url')}" for e in urls
            if isinstance(e, Mapping) and writes(e.get("method"))]
    return ", ".join(sent) or None


@check_kind("api.v1", V1Params, mutates=_v1_writes, writes=_v1_written)
async def check_v1(ctx: CheckContext, p: V1Params) -> Outcome:
    """Every listed v1 endpoint answers one of its expected statuses."""
    urls = [ctx.url(e.url) for e in p.urls]
    async with make_client(ctx, max_connections=min(10, len(p.urls)), max_body_bytes=p.max_body_bytes) as client:
        answers = await asyncio.gather(*(
            fetch(client, e.method, url, headers=request_headers(ctx, url, p.headers, e.headers),
                  json_body=e.json_body)
            for e, url in zip(p.urls, urls, strict=True)
        ))
    rows: list[dict[str, Any]] = []
    wrong: list[str] = []
    for endpoint, answer in zip(p.urls, answers, strict=True):
        ok = answer.status in endpoint.expect_status
        row: dict[str, Any] = {"method": endpoint.method, "url": answer.url, "status": answer.status,
                               "expected": endpoint.expect_status, "latency_ms": answer.latency_ms, "ok": ok}
        where = f"{endpoint.method} {show_url(answer.url, ctx)}"
        if answer.error:
            row["error"] = answer.error
            wrong.append(f"{where} → {answer.error}")
        elif not ok:
            row["body_excerpt"] = answer.excerpt(200)
            wrong.append(f"{where} → {answer.status} (expected {show_statuses(endpoint.expect_status)})")
        rows.append(row)
    if wrong:
        return Outcome.failed(f"{len(wrong)} of {len(rows)} v1 endpoint(s) wrong: {'; '.join(wrong)}",
                              endpoints=rows)
    statuses = ", ".join(f"{show_url(r['url'], ctx)} {r['status']}" for r in rows)
    return Outcome.passed(f"{len(rows)} v1 endpoint(s) answer as expected ({statuses})", endpoints=rows)


class LegacyParams(Params):
    decision: Literal["removed", "supported"] = Field(description="the recorded decision on legacy routes")
    legacy_url: str = Field(description="e.g. /leads")
    v1_url: str | None = Field(None, description="its v1 counterpart, e.g. /api/v1/leads (for supported)")
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    removed_status: list[int] = Field(default_factory=lambda: [404, 410])
    max_body_bytes: int = body_cap_field()

    _method = field_validator("method")(normalize_method)

    @field_validator("removed_status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return status_list(value)

    @model_validator(mode="after")
    def _needs_v1(self) -> LegacyParams:
        if self.decision == "supported" and not self.v1_url:
            raise ValueError("decision 'supported' needs v1_url to compare the legacy answer with")
        return self


def _no_answer(answer: Answer, label: str, ctx: CheckContext, **evidence: Any) -> Outcome:
    return Outcome.failed(f"{answer.error} — {label} {answer.method} {show_url(answer.url, ctx)}",
                          **evidence, error=answer.error)


@check_kind("api.legacy", LegacyParams)
async def check_legacy(ctx: CheckContext, p: LegacyParams) -> Outcome:
    """Legacy routes behave as decided: removed → 404/410; supported → 200 with v1's body."""
    legacy_url = ctx.url(p.legacy_url)
    legacy_show = show_url(legacy_url, ctx)
    async with make_client(ctx, max_connections=2, max_body_bytes=p.max_body_bytes) as client:
        if p.decision == "removed":
            headers = request_headers(ctx, legacy_url, p.headers)
            legacy = await fetch(client, p.method, legacy_url, headers=headers)
            evidence: dict[str, Any] = {"decision": p.decision, "legacy_url": legacy_url,
                                        "legacy_status": legacy.status, "removed_status": p.removed_status}
            if legacy.error:
                return _no_answer(legacy, "legacy", ctx, **evidence)
            if legacy.status in p.removed_status:
                return Outcome.passed(f"legacy {legacy_show} is removed as decided: {legacy.status}",
                                      **evidence)
            return Outcome.failed(
                f"legacy {legacy_show} answers {legacy.status}, but the decision is 'removed' "
                f"(expected {show_statuses(p.removed_status)})", **evidence, body_excerpt=legacy.excerpt(200))
        assert p.v1_url is not None
        v1_url = ctx.url(p.v1_url)
        legacy, v1 = await asyncio.gather(
            fetch(client, p.method, legacy_url, headers=request_headers(ctx, legacy_url, p.headers)),
            fetch(client, p.method, v1_url, headers=request_headers(ctx, v1_url, p.headers)),
        )
    v1_show = show_url(v1_url, ctx)
    evidence = {"decision": p.decision, "legacy_url": legacy_url, "v1_url": v1_url,
                "legacy_status": legacy.status, "v1_status": v1.status}
    if legacy.error:
        return _no_answer(legacy, "legacy", ctx, **evidence)
    if v1.error:
        return _no_answer(v1, "v1", ctx, **evidence)
    if legacy.status != 200:
        return Outcome.failed(
            f"legacy {legacy_show} answers {legacy.status}, but the decision is 'supported' (expected 200)",
            **evidence, body_excerpt=legacy.excerpt(200))
    if v1.status != 200:
        return Outcome.failed(f"v1 {v1_show} answers {v1.status}, so the legacy answer cannot be compared",
                              **evidence, body_excerpt=v1.excerpt(200))
    (legacy_is_json, legacy_doc), (v1_is_json, v1_doc) = legacy.json(), v1.json()
    if legacy_is_json and v1_is_json:
        diff = first_difference(legacy_doc, v1_doc)
        if diff is not None:
            path, left, right = diff
            evidence["difference"] = {"path": path, "legacy": describe(left), "v1": describe(right)}
            return Outcome.failed(
                f"legacy {legacy_show} differs from {v1_show} at {path}: "
                f"{describe(left)} vs {describe(right)}", **evidence)
    else:
        assert legacy.response is not None and v1.response is not None
        if legacy.body != v1.body:
            evidence["legacy_excerpt"], evidence["v1_excerpt"] = legacy.excerpt(200), v1.excerpt(200)
            return Outcome.failed(f"legacy {legacy_show} body differs from {v1_show}", **evidence)
    return Outcome.passed(
        f"legacy {legacy_show} is supported as decided: 200 with the same body as {v1_show}", **evidence)
