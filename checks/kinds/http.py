"""`http`: one request to the target, judged on status, JSON content and latency.

Also the HTTP plumbing the `smoke.*` and `api.*` kinds share: one client setup (target headers,
TLS, a timeout just under the check's own), and one way of turning transport failures into a
result a person understands. An unreachable service is a failed check, not a broken one: the
question "does production answer?" got a clear answer, "no".
"""

from __future__ import annotations

import functools
import json
import re
import socket
import ssl
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, field_validator, model_validator

from checks.bounded import DEFAULT_MAX_BODY_BYTES, CapExceeded, cap_description, read_body
from checks.jsonpath import MISSING, Expectation, evaluate, expectations_from
from checks.masking import mask
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome, Status
from checks.timing import IN_LOOP

if TYPE_CHECKING:  # httpx is imported when a check sends a request: validating a checklist does not load it
    import httpx

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
EXCERPT_CHARS = 500
MAX_REDIRECTS = 10


# -- shared plumbing -------------------------------------------------------------------------------


def client_timeout(ctx: CheckContext) -> float:
    """A little under the check's timeout, so httpx reports what hung before the runner cuts it off."""
    total = ctx.check.timeout
    return max(0.05, max(total * 0.8, total - 0.5))


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """Built once: creating a verifying context per request costs tens of milliseconds."""
    import httpx

    return httpx.create_ssl_context()


def _origin(url: str | httpx.URL) -> tuple[str, str | None, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: http://a and http://a:80 are one origin."""
    parts = urlsplit(str(url))
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower() or None, port or {"http": 80, "https": 443}.get(scheme)


def same_origin(url: str | httpx.URL, base_url: str | httpx.URL) -> bool:
    return _origin(url) == _origin(base_url)


if TYPE_CHECKING:
    class TargetClient(httpx.AsyncClient):
        follow: bool
        max_body_bytes: int
        cap_setting: str

        def __init__(self, *, follow: bool, max_body_bytes: int, cap_setting: str = "max_body_bytes",
                     **kwargs: Any) -> None: ...


@functools.cache
def target_client() -> type[TargetClient]:
    """The TargetClient class, defined on first use (it subclasses httpx's client; see the imports)."""
    import httpx

    class TargetClient(httpx.AsyncClient):
        """An httpx client that knows this check's read cap and whether it follows redirects (`fetch` does the
        following itself: httpx would carry the check's headers to whatever origin a redirect names)."""

        def __init__(self, *, follow: bool, max_body_bytes: int, cap_setting: str = "max_body_bytes",
                     **kwargs: Any) -> None:
            super().__init__(follow_redirects=False, **kwargs)
            self.follow = follow
            self.max_body_bytes = max_body_bytes
            self.cap_setting = cap_setting

    return TargetClient  # type: ignore[return-value]  # the same class as the TYPE_CHECKING declaration above


def make_client(ctx: CheckContext, *, follow_redirects: bool = False, max_connections: int = 20,
                timeout: float | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> TargetClient:
    """An httpx client for this check: TLS per the target's settings, the check's time budget and read cap."""
    import httpx

    verify: ssl.SSLContext | bool = _default_ssl_context() if ctx.checklist.target.verify_tls else False
    return target_client()(
        follow=follow_redirects,
        max_body_bytes=max_body_bytes,
        verify=verify,
        timeout=timeout if timeout is not None else client_timeout(ctx),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        trust_env=False,
    )


def body_cap_field() -> Any:
    """`max_body_bytes`, the same on every HTTP kind."""
    return Field(DEFAULT_MAX_BODY_BYTES, gt=0, description=cap_description("each answer's body",
                                                                           DEFAULT_MAX_BODY_BYTES))


# Every request of one run to the target carries the run's id: the target's operators can tell golive's
# traffic from real users' and find the run in their logs, and a test service can give each run a rate-limit
# window of its own (the bundled demo does, so the burst of smoke.rate_limit never starves the next run).
RUN_HEADER = "X-Golive-Run"


def request_headers(ctx: CheckContext, url: str, *extra: dict[str, str]) -> dict[str, str]:
    """The run's id and the target headers (only toward the target itself, never to a third-party URL),
    then the check's own."""
    headers: dict[str, str] = {}
    if same_origin(url, ctx.base_url):
        if ctx.run_id:
            headers[RUN_HEADER] = ctx.run_id
        headers.update(ctx.checklist.target.headers)
    for more in extra:
        headers.update(more)
    return headers


def show_url(url: str, ctx: CheckContext) -> str:
    """The URL as a person reads it in a summary: a path when it is on the target."""
    base = ctx.base_url
    if url.startswith(base + "/"):
        return url[len(base):]
    return url


@dataclass
class Answer:
    """One request's outcome: a response and its (capped) body, or a transport failure described for people.

    `redirects` lists the URLs redirects led to (when the check follows them); `left_origin` says the chain
    left the first URL's origin, after which nothing configured (headers, run id, body) was sent."""

    method: str
    url: str
    latency_ms: float
    response: httpx.Response | None = None
    error: str | None = None
    timed_out: bool = False
    body: bytes = b""
    truncated: bool = False
    redirects: list[str] = field(default_factory=list)
    left_origin: bool = False
    _json: Any = field(default=None, repr=False)
    _json_ok: bool = field(default=False, repr=False)
    _json_done: bool = field(default=False, repr=False)

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    def json(self) -> tuple[bool, Any]:
        """(parsed, value): whether the body is JSON, and the document when it is (a cut body never is)."""
        if not self._json_done:
            self._json_done = True
            if self.response is not None and self.body and not self.truncated:
                try:
                    self._json = json.loads(self.body)
                    self._json_ok = True
                except (ValueError, UnicodeDecodeError, RecursionError):
                    self._json_ok = False
        return self._json_ok, self._json

    def excerpt(self, limit: int = EXCERPT_CHARS) -> str:
        if self.response is None:
            return ""
        return body_excerpt(self.body, limit, encoding=self.response.encoding)


def body_excerpt(body: bytes, limit: int = EXCERPT_CHARS, *, encoding: str | None = None) -> str:
    """The start of a body, masked before it is cut (a secret split in two would escape the mask)."""
    head = body[: limit * 8]  # enough bytes for `limit` characters after whitespace is folded, mostly
    try:
        text = head.decode(encoding or "utf-8", "replace")
    except LookupError:
        text = head.decode("utf-8", "replace")
    text = re.sub(r"\s+", " ", mask(text)).strip()  # masked while its lines still show its structure (YAML)
    return text if len(text) <= limit and len(head) == len(body) else text[: limit - 1] + "…"


def transport_error(exc: httpx.HTTPError, timeout: float) -> tuple[str, bool]:
    """(summary, timed_out) for a request that got no HTTP answer."""
    import httpx

    if isinstance(exc, httpx.ConnectTimeout):
        return f"unreachable: connect timed out after {timeout:g}s", True
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout:g}s (no answer)", True
    text = str(exc).strip() or type(exc).__name__
    causes = _causes(exc)
    low = " | ".join([text, *(str(c) for c in causes)]).lower()
    if isinstance(exc, httpx.ConnectError):
        if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in low \
                or "errno 111" in low or "errno 61" in low:
            return "unreachable: connection refused", False
        if any(isinstance(c, socket.gaierror) for c in causes):
            return "unreachable: DNS lookup failed", False
        if any(s in low for s in ("name or service not known", "nodename nor servname", "getaddrinfo",
                                  "name resolution", "no address associated", "errno -2", "errno -3",
                                  "errno 8", "errno -5")):
            return "unreachable: DNS lookup failed", False
        if "ssl" in low or "certificate" in low or "tls" in low:
            reason = re.sub(r"^\[SSL[^\]]*\]\s*", "", text).split(" (_ssl")[0]
            return f"unreachable: TLS handshake failed ({reason})", False
        return f"unreachable: {text}", False
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects", False
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"no valid HTTP answer: {text}", False
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.NetworkError):
        return f"connection dropped: {text}", False
    return f"request failed: {text}", False


def _causes(exc: BaseException) -> list[BaseException]:
    """The exceptions behind one (httpx wraps OSError; "All connection attempts failed" hides it)."""
    found: list[BaseException] = []
    current = exc.__cause__ or exc.__context__
    while current is not None and len(found) < 10:
        found.append(current)
        if isinstance(current, BaseExceptionGroup):
            found.extend(current.exceptions)
        current = current.__cause__ or current.__context__
    return found


async def fetch(client: httpx.AsyncClient, method: str, url: str, *, headers: dict[str, str] | None = None,
                json_body: Any = None, content: str | None = None, truncate: bool = False) -> Answer:
    """Send one request and time it; transport failures become an Answer with `error`, never raise.

    The body is read up to the client's cap (`max_body_bytes`): beyond it CapExceeded is raised (the check
    ends in `error` naming the cap), or with `truncate` the body is cut and `Answer.truncated` set.
    Redirects (when the client follows them) keep method and body per 301/302/303/307/308; once a redirect
    leaves the first URL's origin, only the method and the URL go on: no configured header, no run id,
    no body, no cookie. A URL httpx cannot use at all (no scheme, unknown scheme) raises ValueError: that
    is a mistake in the checklist, which the runner reports as an error rather than a failed check.
    """
    import httpx

    started = time.perf_counter()
    ours = client if isinstance(client, target_client()) else None
    follow = ours.follow if ours is not None else False
    limit = ours.max_body_bytes if ours is not None else DEFAULT_MAX_BODY_BYTES
    setting = ours.cap_setting if ours is not None else "max_body_bytes"
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if json_body is not None:
        kwargs["json"] = json_body
    elif content is not None:
        kwargs["content"] = content.encode()
    redirects: list[str] = []
    left_origin = False
    try:
        request = client.build_request(method, url, **kwargs)
        while True:
            response = await client.send(request, stream=True)
            next_request = response.next_request if follow else None
            if next_request is None:
                break
            await response.aclose()
            if len(redirects) >= MAX_REDIRECTS:
                return Answer(method, url, _ms(started), error=f"too many redirects (more than {MAX_REDIRECTS})",
                              redirects=redirects)
            redirects.append(str(next_request.url))
            if left_origin or not same_origin(next_request.url, url):
                left_origin = True
                request = httpx.Request(next_request.method, next_request.url, extensions=next_request.extensions)
            else:
                request = next_request
        try:
            body, truncated = await read_body(response, limit, what=f"the body of {method} {url}",
                                              setting=setting, truncate=truncate)
        finally:
            await response.aclose()
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        if redirects:
            return Answer(method, url, _ms(started), error=f"redirected to an unusable URL: {exc}",
                          redirects=redirects, left_origin=left_origin)
        raise ValueError(f"bad url {url!r}: {exc}") from None
    except CapExceeded:
        raise
    except httpx.HTTPError as exc:
        timeout = client.timeout.read or client.timeout.connect or 0.0
        summary, timed_out = transport_error(exc, timeout)
        return Answer(method, url, _ms(started), error=summary, timed_out=timed_out, redirects=redirects,
                      left_origin=left_origin)
    return Answer(method, url, _ms(started), response=response, body=body, truncated=truncated,
                  redirects=redirects, left_origin=left_origin)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def normalize_method(value: str) -> str:
    """Upper-case and known, so a typo like `GTE` fails at load time rather than at the target."""
    value = value.upper()
    if value not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    return value


ERROR_FIELDS = ("detail", "error", "message", "error_description", "title")


def body_error(document: Any) -> str | None:
    """The body's own account of what went wrong (`{"detail": "Redis unavailable: …"}`), one line, masked.

    FastAPI's validation list (`{"detail": [{"loc": [...], "msg": ...}]}`) gives its first message;
    `{"error": {"message": ...}}` is looked into."""
    if not isinstance(document, dict):
        return None
    for name in ERROR_FIELDS:
        value = document.get(name)
        if isinstance(value, dict):
            value = next((value[k] for k in ("message", "detail", "msg", "error") if isinstance(value.get(k), str)),
                         None)
        elif isinstance(value, list) and value:
            first = value[0]
            if isinstance(first, dict) and isinstance(first.get("msg"), str):
                loc = ".".join(str(p) for p in first.get("loc", []) if p != "body")
                value = f"{loc}: {first['msg']}" if loc else first["msg"]
            elif isinstance(first, str):
                value = first
        if isinstance(value, str) and value.strip():
            line = " ".join(mask(value).split())
            return line if len(line) <= 200 else line[:199] + "…"
    return None


def writes(method: object) -> bool:
    """A request with this method may change the target (the runner then runs it alone)."""
    return str(method or "GET").upper() in WRITE_METHODS


def status_list(value: Any) -> Any:
    """`expect_status: 200` is as good as `[200]` in a checklist."""
    if isinstance(value, int | str) and not isinstance(value, bool):
        return [value]
    return value


def show_statuses(statuses: list[int]) -> str:
    return "/".join(str(s) for s in statuses)


def unreachable(answer: Answer, ctx: CheckContext, **evidence: Any) -> Outcome:
    """The failed outcome for a request that got no answer (full URL: which host matters here)."""
    return Outcome.failed(
        f"{answer.error} — {answer.method} {answer.url}",
        method=answer.method, url=answer.url, latency_ms=answer.latency_ms, error=answer.error,
        timed_out=answer.timed_out, **evidence,
    )


# -- the `http` kind -------------------------------------------------------------------------------


class Cleanup(Params):
    """The request that removes what a writing check created (its synthetic record), sent after it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    url: str
    method: str = "DELETE"
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json")
    expect_status: list[int] = Field(default_factory=lambda: [200, 202, 204, 404])

    _method = field_validator("method")(normalize_method)

    @field_validator("expect_status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return status_list(value)


class HttpParams(Params):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    url: str = Field(description="path on the target's base_url (/healthz/ready) or an absolute URL")
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json", description="JSON request body")
    body: str | None = Field(None, description="raw request body (instead of json)")
    expect_status: list[int] = Field(default_factory=lambda: [200])
    expect_json: list[Expectation] = Field(
        default_factory=list,
        description="[{path: db.status, op: eq, value: ok}] or the shorthand {db.status: ok}",
    )
    json_valid: bool = Field(False, description="the body must be valid JSON")
    max_latency_ms: float | None = Field(None, gt=0, description="fail when the answer takes longer")
    latency_samples: int = Field(
        3, ge=1, le=20, description="with max_latency_ms on a GET/HEAD: judge the median of this many requests "
                                    "timed outside the event loop, after the judged one")
    status_messages: dict[int, str] = Field(default_factory=dict, description="e.g. {503: not ready}")
    follow_redirects: bool = Field(False, description=(
        "follow 3xx answers (at most 10); on a change of origin only the method and the URL follow"))
    max_body_bytes: int = body_cap_field()
    cleanup: Cleanup | None = Field(None, description=(
        "a writing check: the request that removes its synthetic record, e.g. {method: DELETE, url: "
        "/api/v1/leads/golive-smoke.example}; sent after the check whatever its result"))

    _method = field_validator("method")(normalize_method)

    @field_validator("expect_status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return status_list(value)

    @field_validator("expect_json", mode="before")
    @classmethod
    def _expect(cls, value: Any) -> Any:
        return expectations_from(value)

    @model_validator(mode="after")
    def _one_body(self) -> HttpParams:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either json or body, not both")
        return self


def http_writes(params: Any) -> str | None:
    """`POST /api/v1/scan {"domain": …}, then DELETE /api/v1/leads/…` for a check that writes."""
    if not writes(params.get("method")):
        return None
    body = params.get("json")
    text = f"{str(params.get('method')).upper()} {params.get('url')}"
    if body is not None:
        text += " " + json.dumps(body, separators=(",", ":"), default=str)[:120]
    cleanup = params.get("cleanup")
    if isinstance(cleanup, dict) and cleanup.get("url"):
        text += f", then {str(cleanup.get('method') or 'DELETE').upper()} {cleanup['url']} (cleanup)"
    else:
        text += " (no cleanup)"
    return text


@check_kind("http", HttpParams, mutates=lambda params: writes(params.get("method")),
            latency=lambda params: params.get("max_latency_ms") is not None, writes=http_writes)
async def check_http(ctx: CheckContext, p: HttpParams) -> Outcome:
    """An endpoint answers with the expected status, JSON content and latency."""
    url = ctx.url(p.url)
    headers = request_headers(ctx, url, p.headers)
    samples: list[float] = []
    warmup_ms: float | None = None
    changed: list[str] = []
    cleanup_problem = ""
    async with make_client(ctx, follow_redirects=p.follow_redirects, max_body_bytes=p.max_body_bytes) as client:
        # The latency reported is timed by the timing process, not in this (busy) event loop (checks.timing):
        # one request right after the judged one (never beside it: the target would be timed answering two
        # of golive's requests at once), or for a ceiling the median of latency_samples after it.
        answer = await fetch(client, p.method, url, headers=headers, json_body=p.json_body, content=p.body)
        if writes(p.method):
            changed.append(f"{p.method} {show_url(url, ctx)} → {answer.status or answer.error}")
            if p.cleanup is not None:
                cleanup_problem = await _clean_up(ctx, client, p.cleanup, changed)
        timed = None
        if p.method in SAFE_METHODS and p.max_latency_ms is None and ctx.timer is not None \
                and answer.response is not None:
            timed = await ctx.timer.http(p.method, url, headers, count=1, timeout=client_timeout(ctx),
                                         verify=ctx.checklist.target.verify_tls)
        if p.max_latency_ms is not None and p.method in SAFE_METHODS and answer.response is not None \
                and ctx.timer is not None:
            timed = await ctx.timer.http(p.method, url, headers, count=p.latency_samples,
                                         timeout=client_timeout(ctx), verify=ctx.checklist.target.verify_tls)
        if p.max_latency_ms is not None and p.method in SAFE_METHODS and answer.response is not None:
            # The first request pays for golive's connection set-up; the ceiling is about the service.
            warmup_ms = answer.latency_ms
            if timed is not None and timed.samples_ms:
                samples = timed.samples_ms
            else:
                for _ in range(p.latency_samples):
                    answer = await fetch(client, p.method, url, headers=headers)
                    if answer.response is None:
                        break
                    samples.append(answer.latency_ms)
    where = f"{p.method} {show_url(url, ctx)}"
    if answer.response is None:
        return unreachable(answer, ctx, **({"changed": changed} if changed else {}))
    status = answer.status
    assert status is not None
    latency_ms = round(statistics.median(samples), 1) if samples else answer.latency_ms
    if timed is not None and timed.samples_ms and not samples and answer.response is not None:
        latency_ms = timed.median_ms
    evidence: dict[str, Any] = {"method": p.method, "url": url, "status": status, "latency_ms": latency_ms}
    if timed is not None and timed.samples_ms:
        evidence.update(timed.evidence(), event_loop_ms=answer.latency_ms)
    else:
        evidence["latency_timed"] = IN_LOOP + (f" (timing process: {timed.error})" if timed is not None else
                                               " (a write is sent once; it runs alone)" if writes(p.method) else "")
    if changed:
        evidence["changed"] = changed
    if samples:
        evidence.update(latency_samples_ms=samples, warmup_ms=warmup_ms)
    if answer.redirects:
        evidence["redirects"] = answer.redirects
        if answer.left_origin:
            evidence["left_origin"] = "redirected to another origin: only the method and URL were sent there"
    outputs: dict[str, Any] = {"status": status, "latency_ms": latency_ms}
    parsed, data = answer.json()
    if parsed:
        outputs["json"] = data
    mismatches = evaluate(data, p.expect_json) if parsed and p.expect_json else []

    def failed(summary: str, **more: Any) -> Outcome:
        return Outcome(status=Status.FAIL, summary=summary,
                       evidence={**evidence, **more, "body_excerpt": answer.excerpt()}, outputs=outputs)

    if status not in p.expect_status:
        label = p.status_messages.get(status)
        summary = f"HTTP {status}, expected {show_statuses(p.expect_status)}"
        if label:
            summary = f"{label}: {summary}"
        cause = body_error(data) if parsed else None
        # Name the cause: the body's own error field first; fields that are merely missing are not
        # news when the status is wrong (an error body lacks them all), values that differ are.
        wrong = [m for m in mismatches if m.actual is not MISSING]
        if cause:
            summary += f": {cause} — {where}"
        elif wrong:  # name the broken part, e.g. "redis.status is 'error'"
            shown = "; ".join(m.text for m in wrong[:3])
            summary += f" — {where}; {shown}" + (f" (+{len(wrong) - 3} more)" if len(wrong) > 3 else "")
        else:
            summary += f" — {where}"
        location = answer.response.headers.get("location")
        more: dict[str, Any] = {"expected_status": p.expect_status}
        if location:
            more["location"] = location
        if cause:
            more["body_error"] = cause
        if mismatches:
            more["mismatches"] = [m.evidence() for m in mismatches]
        return failed(summary, **more)
    if (p.json_valid or p.expect_json) and not parsed:
        kind = answer.response.headers.get("content-type", "no content type")
        return failed(f"answer is not valid JSON ({kind}, {len(answer.body)} bytes) — {where}")
    if mismatches:
        first = mismatches[0]
        more_text = f" (+{len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
        return failed(f"{first.text}{more_text} — {where}", path=first.path,
                      actual=first.evidence()["actual"], expected=first.expected, op=first.op,
                      mismatches=[m.evidence() for m in mismatches])
    median = " (median)" if len(samples) > 1 else ""
    if p.max_latency_ms is not None and latency_ms > p.max_latency_ms:
        return failed(f"too slow: {latency_ms:.0f} ms{median} > {p.max_latency_ms:g} ms ceiling — {where}",
                      max_latency_ms=p.max_latency_ms)
    parts = [f"HTTP {status} in {latency_ms:.0f} ms{median}"]
    if p.expect_json:
        parts.append(f"{len(p.expect_json)} JSON assertion{'s' if len(p.expect_json) != 1 else ''} hold")
    elif p.json_valid:
        parts.append("valid JSON")
    if p.max_latency_ms is not None:
        parts.append(f"within {p.max_latency_ms:g} ms")
    if cleanup_problem:
        return Outcome(status=Status.WARN, summary=", ".join(parts) + f"; but {cleanup_problem}", evidence=evidence,
                       outputs=outputs)
    if p.cleanup is not None:
        parts.append("synthetic record removed")
    return Outcome(status=Status.PASS, summary=", ".join(parts), evidence=evidence, outputs=outputs)


async def _clean_up(ctx: CheckContext, client: httpx.AsyncClient, cleanup: Cleanup, changed: list[str]) -> str:
    """Send the cleanup request; "" when it did its job, else what went wrong (the record may remain)."""
    url = ctx.url(cleanup.url)
    answer = await fetch(client, cleanup.method, url, headers=request_headers(ctx, url, cleanup.headers),
                         json_body=cleanup.json_body)
    changed.append(f"{cleanup.method} {show_url(url, ctx)} → {answer.status or answer.error} (cleanup)")
    if answer.status in cleanup.expect_status:
        return ""
    got = f"HTTP {answer.status}" if answer.status is not None else str(answer.error)
    return (f"the cleanup {cleanup.method} {show_url(url, ctx)} answered {got} (expected "
            f"{show_statuses(cleanup.expect_status)}): the synthetic record may remain")
