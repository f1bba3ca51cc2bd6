"""Writers don't race readers: a check that changes the target runs alone, so `api.legacy` (legacy and v1
bodies compared) next to a POST that rewrites the row passes every time.

The local service makes the race certain when it is allowed: the legacy route reads the row at once,
the v1 route a little later, and the scan POST rewrites the row in between.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.serving.server import start_web_app
from checks.lanes import Lanes
from checks.loader import parse_checklist
from checks.result import Status
from checks.runner import Runner, lane_of
from checks.timing import Timer


class Rows:
    def __init__(self) -> None:
        self.row = {"domain": "example.com", "score": 0}
        self.counter = itertools.count(1)
        self.active: set[str] = set()
        self.overlaps: list[set[str]] = []

    def enter(self, name: str) -> None:
        if self.active:
            self.overlaps.append({*self.active, name})
        self.active.add(name)

    async def legacy(self, request: web.Request) -> web.Response:
        self.enter("legacy")
        row = dict(self.row)
        await asyncio.sleep(0.03)
        self.active.discard("legacy")
        return web.json_response({"items": [row]})

    async def v1(self, request: web.Request) -> web.Response:
        self.enter("v1")
        await asyncio.sleep(0.03)
        row = dict(self.row)
        self.active.discard("v1")
        return web.json_response({"items": [row]})

    async def scan(self, request: web.Request) -> web.Response:
        self.enter("scan")
        await asyncio.sleep(0.01)
        self.row = {"domain": "example.com", "score": next(self.counter)}
        self.active.discard("scan")
        return web.json_response({"queued": True}, status=202)


@pytest.fixture
async def rows() -> AsyncIterator[tuple[Rows, str]]:
    service = Rows()
    app = web.Application()
    app.router.add_get("/leads", service.legacy)
    app.router.add_get("/api/v1/leads", service.v1)
    app.router.add_post("/api/v1/scan", service.scan)
    runner, port = await start_web_app(app)
    url = f"http://127.0.0.1:{port}"
    # One timing process for all the runs of a test, as concurrent runs share one: held open by a Timer of
    # our own, so each run does not start (and wait for) a fresh process. The lanes under test are the
    # runner's, not the timing process's.
    held = Timer()
    assert not (await held.http("GET", f"{url}/api/v1/leads", {}, count=1, timeout=5.0)).error
    service.overlaps.clear()
    yield service, url
    await held.close()
    await runner.cleanup()


def checklist(url: str, scan_extra: str = "") -> str:
    return f"""name: race
target: {{base_url: "{url}"}}
phases:
  - id: smoke
    checks:
      - {{id: api.legacy, kind: api.legacy, params: {{decision: supported, legacy_url: /leads,
          v1_url: /api/v1/leads}}}}
      - {{id: smoke.scan, kind: http, {scan_extra}params: {{url: /api/v1/scan, method: POST,
          json: {{domain: example.com}}, expect_status: [202]}}}}
      - {{id: smoke.leads, kind: http, params: {{url: /api/v1/leads}}}}
"""


async def test_the_comparison_passes_50_of_50_next_to_a_mutating_post(rows: tuple[Rows, str]) -> None:
    service, url = rows
    cl = parse_checklist(checklist(url), "race.yml")
    assert lane_of(cl.check("smoke.scan")) == "exclusive"  # a POST mutates by default
    passed = 0
    for _ in range(50):
        report = await Runner(cl, env={}).run(cl.all_checks())
        by_id = {r.check_id: r for r in report.results}
        assert by_id["smoke.scan"].status is Status.PASS, by_id["smoke.scan"].summary
        passed += by_id["api.legacy"].status is Status.PASS
    assert passed == 50
    assert not [o for o in service.overlaps if "scan" in o]  # the writer never overlapped anything
    assert service.row["score"] == 50


async def test_without_the_lane_the_race_shows(rows: tuple[Rows, str]) -> None:
    """The control: marked `mutates: false`, the POST runs alongside and the comparison fails."""
    _, url = rows
    cl = parse_checklist(checklist(url, "mutates: false, "), "race.yml")
    failed = 0
    for _ in range(5):
        report = await Runner(cl, env={}).run(cl.all_checks())
        legacy = next(r for r in report.results if r.check_id == "api.legacy")
        failed += legacy.status is Status.FAIL and "differs from /api/v1/leads at items.0.score" in legacy.summary
    assert failed >= 4, legacy.summary


async def test_lanes_admit_writers_alone_and_quiet_checks_after_ready_ordinary_ones() -> None:
    lanes, log = Lanes(), []

    async def check(name: str, lane: str, seconds: float) -> None:
        async with lanes.enter(lane):  # type: ignore[arg-type]
            log.append(("start", name, dict(lanes.running)))
            await asyncio.sleep(seconds)
        log.append(("end", name))

    await asyncio.gather(check("n1", "normal", 0.03), check("q1", "quiet", 0.01), check("w1", "exclusive", 0.01),
                         check("n2", "normal", 0.01), check("q2", "quiet", 0.01))
    for entry in log:
        if entry[0] == "start":
            running = {k: v for k, v in entry[2].items() if v}
            if "exclusive" in running:
                assert running == {"exclusive": 1}, log
            if "quiet" in running:
                assert "normal" not in running, log
    starts = [e[1] for e in log if e[0] == "start"]
    assert starts.index("q1") > starts.index("n2") and starts.index("q2") > starts.index("n2")
