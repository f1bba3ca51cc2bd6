"""Every request of a run to the target says which run it belongs to (X-Golive-Run), and only the target
hears it: a URL on another origin gets no golive header."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.serving.server import start_web_app
from checks.kinds.http import RUN_HEADER
from checks.result import Status
from checks.runner import Runner
from tests.checks.http_fixtures import checklist_for


class Recorder:
    """A local HTTP service that answers 200 and keeps the headers of every request."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.app = web.Application()
        self.app.router.add_get("/{tail:.*}", self.answer)

    async def answer(self, request: web.Request) -> web.Response:
        self.seen.append(dict(request.headers))
        return web.json_response({"status": "ok"})


@pytest.fixture
async def servers() -> AsyncIterator[tuple[str, Recorder, str, Recorder]]:
    target, other = Recorder(), Recorder()
    runners = []
    urls = []
    for recorder in (target, other):
        runner, port = await start_web_app(recorder.app)
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{port}")
    yield urls[0], target, urls[1], other
    for runner in runners:
        await runner.cleanup()


async def test_the_run_id_goes_to_the_target_only(servers: tuple[str, Recorder, str, Recorder]) -> None:
    target_url, target, other_url, other = servers
    checklist = checklist_for(target_url, f"""
        - id: on.target
          kind: http
          params: {{url: /healthz/live}}
        - id: elsewhere
          kind: http
          params: {{url: "{other_url}/status"}}
    """)
    runner = Runner(checklist, env={})
    report = await runner.run(checklist.all_checks(), run_id="run-42")
    assert [r.status for r in report.results] == [Status.PASS, Status.PASS]
    # the judged request and the latency samples timed outside the event loop (checks.timing) alike
    assert target.seen and {h.get(RUN_HEADER) for h in target.seen} == {"run-42"}
    assert other.seen and all(RUN_HEADER not in h for h in other.seen)

    first = len(target.seen)
    await runner.run(checklist.all_checks())  # no id given: a fresh one per run, never the previous one
    ids = {h.get(RUN_HEADER) for h in target.seen[first:]}
    assert len(ids) == 1 and None not in ids and "run-42" not in ids
