"""Redirects keep headers at home (issue 18, item 4). With `follow_redirects: true`, a redirect within the
target's origin carries the request as it was; once a redirect changes origin, only the method and the URL
go on: no target header (X-Api-Key), no X-Golive-Run, no check header, no cookie, no body. A second local
server records what it receives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from bench.hostile_target import HostileTarget, Recorder
from bot.serving.server import start_web_app
from checks.kinds.http import MAX_REDIRECTS, RUN_HEADER
from checks.result import CheckResult, Status
from checks.runner import Runner
from checks.timing_worker import TIMING_USER_AGENT
from tests.checks.http_fixtures import checklist_for

API_KEY = "k3y-of-the-target-0042"
TARGET_HEADERS = f"headers: {{X-Api-Key: {API_KEY}}}"
CONFIGURED = ("x-api-key", RUN_HEADER.lower(), "x-check-header", "cookie", "content-type")


@dataclass
class Origins:
    target_url: str
    target: HostileTarget
    other_url: str
    other: Recorder

    def redirect(self, to: str, status: int = 302) -> str:
        return f"/redirect?status={status}&to={quote(to, safe='')}"


@pytest.fixture
async def origins() -> AsyncIterator[Origins]:
    target, other = HostileTarget(), Recorder()
    runners, urls = [], []
    for app in (target.app, other.app):
        runner, port = await start_web_app(app)
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{port}")
    yield Origins(urls[0], target, urls[1], other)
    for runner in runners:
        await runner.cleanup()


def judged(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests of the check's own client: the timing process (checks.timing) also sends one plain GET
    to the first URL, named by its User-Agent, and never follows a redirect."""
    return [s for s in seen if s["headers"].get("User-Agent") != TIMING_USER_AGENT]


async def run(origins: Origins, params: str, run_id: str = "run-7") -> CheckResult:
    checklist = checklist_for(origins.target_url, f"""
        - id: redirected
          kind: http
          params: {params}
    """, target_yaml=TARGET_HEADERS)
    report = await Runner(checklist, env={}).run(checklist.all_checks(), run_id=run_id)
    return report.results[0]


def lower(headers: dict[str, str]) -> set[str]:
    return {name.lower() for name in headers}


async def test_a_redirect_to_another_origin_carries_only_the_method_and_the_url(origins: Origins) -> None:
    result = await run(origins, f'{{url: "{origins.redirect(origins.other_url + "/landing")}", '
                                f'follow_redirects: true, headers: {{X-Check-Header: mine}}}}')
    assert result.status is Status.PASS, result.summary
    [first] = judged(origins.target.seen)
    assert first["headers"]["X-Api-Key"] == API_KEY and first["headers"][RUN_HEADER] == "run-7"
    [landed] = origins.other.seen
    assert landed["method"] == "GET" and landed["path"] == "/landing"
    assert not lower(landed["headers"]) & set(CONFIGURED), landed["headers"]
    assert API_KEY not in str(landed["headers"]) and "s3ss10n" not in str(landed["headers"])
    assert result.evidence["redirects"] == [origins.other_url + "/landing"]
    assert "another origin" in result.evidence["left_origin"]


async def test_a_redirect_within_the_origin_keeps_the_headers(origins: Origins) -> None:
    result = await run(origins, f'{{url: "{origins.redirect("/landing")}", follow_redirects: true}}')
    assert result.status is Status.PASS, result.summary
    _, landed = judged(origins.target.seen)
    assert landed["path"] == "/landing"
    assert landed["headers"]["X-Api-Key"] == API_KEY and landed["headers"][RUN_HEADER] == "run-7"
    assert "left_origin" not in result.evidence
    assert not origins.other.seen


async def test_once_the_chain_left_the_origin_nothing_configured_comes_back_with_it(origins: Origins) -> None:
    back_home = origins.target_url + "/landing"
    # target -> a redirect on another port of the same host (another origin) -> back to the target
    other_target = HostileTarget()
    runner, port = await start_web_app(other_target.app)
    try:
        hop = f"http://127.0.0.1:{port}/redirect?status=302&to={quote(back_home, safe='')}"
        result = await run(origins, f'{{url: "{origins.redirect(hop)}", follow_redirects: true}}')
    finally:
        await runner.cleanup()
    assert result.status is Status.PASS, result.summary
    [foreign] = other_target.seen
    assert not lower(foreign["headers"]) & set(CONFIGURED)
    first, landed = judged(origins.target.seen)
    assert first["headers"]["X-Api-Key"] == API_KEY
    assert not lower(landed["headers"]) & set(CONFIGURED), landed["headers"]


@pytest.mark.parametrize(("status", "same_origin", "method", "body"), [
    (307, True, "POST", b'{"lead":1}'),    # 307/308 keep method and body
    (308, True, "POST", b'{"lead":1}'),
    (303, True, "GET", b""),                # 303 turns into a GET without a body
    (302, True, "GET", b""),                # 302 after a POST: a GET, as browsers (and httpx) do
    (307, False, "POST", b""),              # another origin: the method and the URL only, no body
    (308, False, "POST", b""),
])
async def test_redirect_statuses_keep_their_method_semantics(origins: Origins, status: int, same_origin: bool,
                                                             method: str, body: bytes) -> None:
    to = "/landing" if same_origin else origins.other_url + "/landing"
    result = await run(origins, f'{{url: "{origins.redirect(to, status)}", method: POST, json: {{lead: 1}}, '
                                'follow_redirects: true}')
    assert result.status is Status.PASS, result.summary
    landed: dict[str, Any] = (judged(origins.target.seen) if same_origin else origins.other.seen)[-1]
    assert landed["path"] == "/landing" and landed["method"] == method and landed["body"] == body
    if not same_origin:
        assert not lower(landed["headers"]) & set(CONFIGURED), landed["headers"]


async def test_without_follow_redirects_nothing_reaches_the_other_origin(origins: Origins) -> None:
    result = await run(origins, f'{{url: "{origins.redirect(origins.other_url + "/landing")}"}}')
    assert result.status is Status.FAIL and "HTTP 302" in result.summary
    assert result.evidence["location"] == origins.other_url + "/landing"
    assert not origins.other.seen


async def test_a_redirect_loop_stops_after_a_bounded_number_of_hops(origins: Origins) -> None:
    result = await run(origins, '{url: /loop, follow_redirects: true}')
    assert result.status is Status.FAIL
    assert f"too many redirects (more than {MAX_REDIRECTS})" in result.summary
    assert len(result.evidence.get("redirects", [])) == MAX_REDIRECTS or "redirects" not in result.evidence
