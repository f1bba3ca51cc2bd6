"""`sentry.test_event`: the service's Sentry project really receives events, tagged with the environment.

The event goes out through a private sentry_sdk Client (never `sentry_sdk.init`), so the bot's own Sentry
setup is left alone. Arrival is confirmed through the Sentry API when a token is configured; otherwise
the check asks a person to confirm it in the Sentry UI. The DSN (its key) never appears in any output.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import Field

from checks.bounded import MIB, CapExceeded, request_capped
from checks.masking import mask, masker
from checks.registry import CheckContext, Params, check_kind
from checks.result import Outcome, Status

if TYPE_CHECKING:
    from sentry_sdk.transport import HttpTransport


class SentryTestEventParams(Params):
    dsn: str = Field(description="the service's DSN, usually ${HUNTER_SENTRY_DSN}")
    environment: str = "production"
    api_token: str | None = Field(
        None, description="Sentry auth token (event:read); without it a person confirms"
    )
    api_url: str = "https://sentry.io"
    org: str | None = Field(None, description="organization slug, for the API lookup")
    project: str | None = Field(None, description="project slug or id; default the DSN's project id")
    wait_seconds: float = Field(
        60.0, gt=0, description="how long to wait for the event to show up in the API"
    )
    poll_interval: float = Field(3.0, gt=0)
    flush_timeout: float = Field(10.0, gt=0, description="how long to wait for the event to be sent")
    message: str = "golive test event: Sentry wiring check, safe to ignore"
    release: str | None = None


@dataclass(frozen=True)
class DsnInfo:
    """What may be shown of a DSN: never the key."""

    scheme: str
    host: str
    project_id: str


def parse_dsn(dsn: str) -> DsnInfo:
    """Check the `https://<key>@<host>/<project>` shape; errors name the problem, never the value."""
    try:
        parts = urlsplit(dsn.strip())
        port = parts.port
    except ValueError:
        raise ValueError("DSN is not a URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("DSN must start with https:// (shape https://<key>@<host>/<project>)")
    if not parts.username:
        raise ValueError("DSN has no public key (shape https://<key>@<host>/<project>)")
    if not parts.hostname:
        raise ValueError("DSN has no host (shape https://<key>@<host>/<project>)")
    project = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if not project.isdigit():
        raise ValueError("DSN does not end in a numeric project id (shape https://<key>@<host>/<project>)")
    host = parts.hostname + (f":{port}" if port else "")
    return DsnInfo(scheme=parts.scheme, host=host, project_id=project)


@dataclass
class Delivery:
    """What the private transport saw while sending our event."""

    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _transport_class(delivery: Delivery) -> type[HttpTransport]:
    """An HttpTransport that records the ingest's answer to envelopes carrying an event. (sentry_sdk is
    imported here, not at module level: loading a checklist should not pay for it.)"""
    from sentry_sdk.transport import HttpTransport

    class RecordingTransport(HttpTransport):
        def _handle_response(self, *args: Any, **kwargs: Any) -> None:
            response = kwargs.get("response", args[0] if args else None)
            envelope = kwargs.get("envelope", args[1] if len(args) > 1 else None)
            if envelope is not None and envelope.get_event() is not None and response is not None:
                delivery.statuses.append(int(response.status))
            super()._handle_response(*args, **kwargs)

        def _handle_request_error(self, *args: Any, **kwargs: Any) -> None:
            envelope = kwargs.get("envelope")
            if envelope is None or envelope.get_event() is not None:
                delivery.errors.append(str(kwargs.get("loss_reason", "network")))
            super()._handle_request_error(*args, **kwargs)

    return RecordingTransport


def send_test_event(
    dsn: str, environment: str, tag: str, message: str, release: str | None, flush_timeout: float
) -> tuple[str | None, Delivery]:
    """Send one event through a throw-away Client + Scope and wait until it left. Blocking: use a thread."""
    import sentry_sdk
    from sentry_sdk import client as sentry_client

    delivery = Delivery()
    sdk_info: dict[str, Any] = getattr(sentry_client, "SDK_INFO", None) or {}
    sdk_info_name = sdk_info.get("name")
    client = sentry_sdk.Client(
        dsn=dsn,
        environment=environment,
        release=release,
        transport=_transport_class(delivery),
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[],
        enable_backpressure_handling=False,
        send_client_reports=False,
        sample_rate=1.0,
        max_breadcrumbs=0,
        attach_stacktrace=False,
        debug=False,
    )
    if sdk_info_name:  # Client() records its SDK name in a module global; keep the bot's own value
        sdk_info["name"] = sdk_info_name
    try:
        scope = sentry_sdk.Scope(client=client)
        scope.set_tag("golive_check", tag)
        scope.set_tag("environment", environment)
        scope.set_level("error")
        event_id = client.capture_event(
            {"message": message, "level": "error", "logger": "golive"}, scope=scope
        )
        client.flush(timeout=flush_timeout)
    finally:
        client.close(timeout=1.0)
    return event_id, delivery


def _tag(event: dict[str, Any], key: str) -> str | None:
    for item in event.get("tags") or []:
        if isinstance(item, dict) and item.get("key") == key:
            return str(item.get("value"))
        if isinstance(item, list | tuple) and len(item) == 2 and item[0] == key:
            return str(item[1])
    return None


@check_kind("sentry.test_event", SentryTestEventParams)
async def check_sentry_test_event(ctx: CheckContext, p: SentryTestEventParams) -> Outcome:
    """Send a test event tagged with the environment; confirm it via the Sentry API or ask a person."""
    masker.add(p.dsn, p.api_token)
    try:
        info = parse_dsn(p.dsn)
    except ValueError as exc:
        return Outcome.failed(f"invalid Sentry DSN: {exc}")
    tag = uuid.uuid4().hex
    evidence: dict[str, Any] = {
        "sentry_host": info.host,
        "project_id": info.project_id,
        "environment": p.environment,
        "golive_check": tag,
    }
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    # A fresh context: the bot's own scopes (and their processors) stay out of the test event.
    event_id, delivery = await loop.run_in_executor(
        None,
        contextvars.Context().run,
        send_test_event,
        p.dsn,
        p.environment,
        tag,
        p.message,
        p.release,
        p.flush_timeout,
    )
    evidence.update(event_id=event_id, send_s=round(time.perf_counter() - started, 2))
    if event_id is None:
        return Outcome.failed("the Sentry SDK dropped the test event before sending it", **evidence)
    if delivery.errors and not delivery.statuses:
        return Outcome.failed(
            f"could not reach Sentry at {info.host} ({', '.join(delivery.errors)})", **evidence
        )
    if not delivery.statuses:
        return Outcome.failed(
            f"the test event was not sent within {p.flush_timeout:g}s (Sentry at {info.host} "
            f"too slow or unreachable)",
            **evidence,
        )
    status = delivery.statuses[-1]
    evidence["ingest_status"] = status
    if status == 429:
        return Outcome.failed(f"Sentry rate-limited the test event (HTTP 429) at {info.host}", **evidence)
    if not 200 <= status < 300:
        hint = " (wrong DSN key or project?)" if status in (401, 403, 404) else ""
        return Outcome.failed(
            f"Sentry at {info.host} rejected the test event: HTTP {status}{hint}", **evidence
        )
    token, org = (p.api_token or "").strip(), (p.org or "").strip()
    if not token or not org:
        outcome = Outcome(
            status=Status.WARN,
            needs_confirmation=True,
            evidence=evidence,
            summary=(
                f"test event {event_id} sent to {info.host} (project {info.project_id}); please confirm in "
                f"the Sentry UI that it arrived with environment={p.environment} "
                f"(search golive_check:{tag})"
            ),
        )
        outcome.outputs = {"event_id": event_id, "golive_check": tag}
        return outcome
    return await _await_arrival(ctx, p, info, event_id, tag, token, org, evidence, started)


async def _await_arrival(
    ctx: CheckContext,
    p: SentryTestEventParams,
    info: DsnInfo,
    event_id: str,
    tag: str,
    token: str,
    org: str,
    evidence: dict[str, Any],
    started: float,
) -> Outcome:
    project = (p.project or "").strip() or info.project_id
    api = p.api_url.rstrip("/")
    url = f"{api}/api/0/projects/{quote(org, safe='')}/{quote(project, safe='')}/events/{event_id}/"
    # Finish with our own verdict before the runner's timeout cuts us off.
    budget = min(p.wait_seconds, max(1.0, ctx.check.timeout - (time.perf_counter() - started) - 2.0))
    deadline = time.perf_counter() + budget
    last = "no answer"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    async with httpx.AsyncClient(timeout=10.0, headers=headers) as client:
        while True:
            try:
                response, body = await request_capped(client, "GET", url, limit=MIB, setting="", total_timeout=10.0)
            except (httpx.HTTPError, TimeoutError) as exc:
                last = f"{type(exc).__name__}"
            except CapExceeded:
                last = "an answer over 1 MiB"
            else:
                if response.status_code == 200:
                    return _arrived(body, p, tag, evidence, started)
                if response.status_code in (401, 403):
                    return Outcome.failed(
                        f"the Sentry API rejected the token (HTTP {response.status_code}); it "
                        f"needs event:read on {org}/{project}",
                        **evidence,
                    )
                last = f"HTTP {response.status_code}"
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            await asyncio.sleep(min(p.poll_interval, remaining))
    evidence["last_api_answer"] = last
    return Outcome.failed(
        f"test event {event_id} was sent but not seen in Sentry within {budget:g} s "
        f"(last API answer: {last})",
        **evidence,
    )


def _arrived(
    body: bytes, p: SentryTestEventParams, tag: str, evidence: dict[str, Any], started: float
) -> Outcome:
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        event = {}
    if not isinstance(event, dict):
        event = {}
    seen_env = _tag(event, "environment") or event.get("environment")
    seen_tag = _tag(event, "golive_check")
    elapsed = round(time.perf_counter() - started, 1)
    evidence.update(arrived_after_s=elapsed, seen_environment=seen_env)
    if seen_tag is not None and seen_tag != tag:
        return Outcome.failed(
            f"Sentry returned an event without our golive_check tag ({mask(seen_tag)})", **evidence
        )
    if seen_env != p.environment:
        return Outcome.failed(
            f"the test event arrived with environment={seen_env}, expected {p.environment}", **evidence
        )
    outcome = Outcome.passed(
        f"test event arrived in Sentry after {elapsed:g}s with environment={p.environment}", **evidence
    )
    outcome.outputs = {"event_id": evidence.get("event_id"), "golive_check": tag}
    return outcome
