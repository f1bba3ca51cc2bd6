"""A hostile target: endless bodies, hung routes, redirects to another origin, and what golive does with them.

`HostileTarget` is a local aiohttp service the tests reuse (tests/checks/test_bounded_reads.py): it streams
a body of any size without holding it (a generator of zero chunks, chunked transfer) and counts the bytes
it managed to send before the client hung up, so a test proves the client stopped at its cap without
timing anything. `Recorder` is a second origin that keeps every request it gets (method, headers, body).

Run: python -m bench.hostile_target   (prints, per hostile input, golive's wall time, its peak RSS and the
biggest stored row, each from a real `golive run` process; exit 1 when a run misses the issue's bounds:
an `error` naming the cap within the check's timeout + 2 s, peak RSS < 250 MB, rows < 100 KiB)
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sqlite3
import sys
import tempfile
import textwrap
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bench import own_peak

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 ** 2
GIB = 1024 ** 3
CHUNK = b"\0" * 65536


@dataclass
class Stream:
    """One streamed answer: how much it was asked to send, how much got out, whether it is over."""

    size: int
    sent: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


@functools.cache
def gzip_bomb(mib: int = 64) -> bytes:
    """`mib` MiB of zeros, gzipped: about a thousandth of that on the wire."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * MIB
    return b"".join(packer.compress(zeros) for _ in range(mib)) + packer.flush()


class HostileTarget:
    """GET /zeros?bytes=N (default 1 GiB, chunked) and /zeros-declared (same, with Content-Length);
    /hang (never answers until `release()`); /broken (500 with a reason); /ok; /redirect?to=URL&status=302
    (sets a cookie too) and /landing, which keep each request in `seen`; /loop (redirects to itself);
    /gzip-bomb?mib=64 (64 KiB on the wire, 64 MiB once inflated); /openapi.json listing `routes`."""

    def __init__(self, routes: tuple[str, ...] = ("/ok", "/broken", "/hang", "/zeros")) -> None:
        self.streams: list[Stream] = []
        self.seen: list[dict[str, Any]] = []
        self.released = asyncio.Event()
        self.routes = routes
        self.app = web.Application()
        self.app.router.add_route("*", "/zeros", self.zeros)
        self.app.router.add_get("/zeros-declared", self.zeros_declared)
        self.app.router.add_get("/hang", self.hang)
        self.app.router.add_get("/broken", self.broken)
        self.app.router.add_get("/ok", self.ok)
        self.app.router.add_route("*", "/redirect", self.redirect)
        self.app.router.add_route("*", "/landing", self.landing)
        self.app.router.add_get("/loop", self.loop)
        self.app.router.add_get("/gzip-bomb", self.gzip_bomb)
        self.app.router.add_get("/openapi.json", self.openapi)

    async def _stream(self, request: web.Request, *, declared: bool) -> web.StreamResponse:
        stream = Stream(int(request.query.get("bytes", GIB)))
        self.streams.append(stream)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if declared:
            response.content_length = stream.size
        else:
            response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            while stream.sent < stream.size:
                piece = CHUNK[: min(len(CHUNK), stream.size - stream.sent)]
                await response.write(piece)
                stream.sent += len(piece)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):  # the client hung up: that is the point
            pass
        finally:
            stream.done.set()
        return response

    async def zeros(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, declared=False)

    async def zeros_declared(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, declared=True)

    async def hang(self, request: web.Request) -> web.Response:
        await self.released.wait()
        return web.json_response({"status": "late"})

    def release(self) -> None:
        self.released.set()

    async def broken(self, request: web.Request) -> web.Response:
        return web.json_response({"detail": "database unavailable"}, status=500)

    async def ok(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def redirect(self, request: web.Request) -> web.Response:
        self.seen.append({"path": request.path, "method": request.method, "headers": dict(request.headers),
                          "body": await request.read()})
        status = int(request.query.get("status", "302"))
        response = web.Response(status=status, headers={"Location": request.query["to"]})
        response.set_cookie("target_session", "s3ss10n-of-the-target")
        return response

    async def gzip_bomb(self, request: web.Request) -> web.Response:
        return web.Response(body=gzip_bomb(int(request.query.get("mib", 64))), headers={"Content-Encoding": "gzip",
                                                        "Content-Type": "application/json"})

    async def loop(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop"})

    async def landing(self, request: web.Request) -> web.Response:
        self.seen.append({"path": request.path, "method": request.method, "headers": dict(request.headers),
                          "body": await request.read()})
        return web.json_response({"status": "ok"})

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response({"openapi": "3.1.0", "paths": {r: {"get": {}} for r in self.routes}})

    async def all_streams_done(self, timeout: float = 30.0) -> None:
        """Wait until every streamed answer ended (the client hung up or it was sent in full)."""
        async with asyncio.timeout(timeout):
            for stream in self.streams:
                await stream.done.wait()


class Recorder:
    """A second origin: answers 200 to anything and keeps each request (method, path, headers, body)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.answer)

    async def answer(self, request: web.Request) -> web.Response:
        self.seen.append({"path": request.path, "method": request.method, "headers": dict(request.headers),
                          "body": await request.read()})
        return web.json_response({"status": "ok"})


# -- the benchmark: real `golive run` processes against the hostile target ----------------------------------


@dataclass
class Measured:
    label: str
    timeout: float
    wall_s: float
    peak_mb: float
    biggest_row_bytes: int
    output: str
    named_cap: bool
    statuses: list[str] = field(default_factory=list)
    check_s: float = 0.0

    def ok(self) -> bool:
        return self.named_cap and self.wall_s <= self.timeout + 2 + STARTUP_ALLOWANCE_S and self.peak_mb < 250 \
            and self.biggest_row_bytes < 100 * 1024


STARTUP_ALLOWANCE_S = 3.0
"""A `golive run` process also starts Python and opens its store: that is not the check's time."""


def checklist(base_url: str, body: str, settings: str = "") -> str:
    return (f"name: hostile\ntarget:\n  base_url: {base_url}\n{settings}phases:\n  - id: hostile\n    checks:\n"
            + textwrap.indent(textwrap.dedent(body).strip("\n"), "      ") + "\n")


HUGE_BODY = """
    - id: huge.body
      kind: http
      timeout: 10
      params: {url: /zeros}
"""
HUGE_OUTPUT = """
    - id: huge.output
      kind: command
      timeout: 5
      params: {command: "head -c 100000000 /dev/zero"}
"""
SETTINGS_DEV_ZERO = "settings:\n  source: command\n  command: cat /dev/zero\n"

CASES: dict[str, tuple[float, str, str, tuple[str, ...]]] = {
    # label: (the longest check timeout, checks, settings block, the caps its errors must name)
    "http body of 1 GiB": (10.0, HUGE_BODY, "", ("max_body_bytes",)),
    "command writing 100 MB": (5.0, HUGE_OUTPUT, "", ("max_output_bytes",)),
    "settings command reading /dev/zero": (20.0, "- {id: never.runs, kind: http, params: {url: /ok}}",
                                           SETTINGS_DEV_ZERO, ("settings.max_bytes",)),
    # the test suite runs this one instead of the first two: one process start for both
    "1 GiB body and 100 MB output in one run": (10.0, HUGE_BODY + HUGE_OUTPUT, "",
                                                ("max_body_bytes", "max_output_bytes")),
}
BENCH_CASES = list(CASES)[:3]


def run_golive(workdir: Path, checklist_text: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout + stderr) of one `golive run --checklist` process."""
    path = workdir / "checklist.yml"
    path.write_text(checklist_text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_", "TEAMS_"))}
    env.update(GOLIVE_STATE_DIR=str(workdir / "state"), PYTHONPATH=str(ROOT))
    out = workdir / "out.txt"
    with out.open("wb") as sink:  # its own peak: a forked child's rusage starts at the parent's size
        wall, _, peak = own_peak.run_golive(["run", "all", "--checklist", str(path), "--no-color"], str(workdir),
                                            env, output=sink)
    return wall, peak, out.read_text(errors="replace")


def stored(workdir: Path) -> tuple[int, list[str], float]:
    """(the biggest stored result row in bytes, every stored result's status, the longest check's own
    duration in seconds) from the run's store."""
    db = workdir / "state" / "golive.db"
    if not db.exists():
        return 0, [], 0.0
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, length(CAST(summary AS BLOB)) + length(CAST(evidence AS BLOB)) "
                            "+ length(CAST(title AS BLOB)) + length(CAST(check_id AS BLOB)), duration_ms "
                            "FROM results").fetchall()
    return (max((int(r[1] or 0) for r in rows), default=0), [str(r[0]) for r in rows],
            max((float(r[2] or 0) for r in rows), default=0.0) / 1000)


async def measure(label: str) -> Measured:
    from bot.serving.server import start_web_app

    timeout, checks, settings, caps = CASES[label]
    target = HostileTarget()
    runner, port = await start_web_app(target.app)
    try:
        with tempfile.TemporaryDirectory(prefix="golive-hostile-") as tmp:
            workdir = Path(tmp)
            text = checklist(f"http://127.0.0.1:{port}", checks, settings)
            wall, peak, output = await asyncio.to_thread(run_golive, workdir, text)
            row, statuses, check_s = stored(workdir)
    finally:
        target.release()
        await runner.cleanup()
    return Measured(label, timeout, wall, peak, row, output, all(cap in output for cap in caps), statuses, check_s)


async def main_async(labels: list[str]) -> int:
    missed = False
    for label in labels:
        m = await measure(label)
        print(f"{label:<36} process wall {m.wall_s:5.2f} s, the check {m.check_s:5.2f} s "
              f"(its timeout {m.timeout:g} s)   peak RSS {m.peak_mb:6.1f} MB   "
              f"biggest stored row {m.biggest_row_bytes / 1024:6.1f} KiB   error names the cap: "
              f"{'yes' if m.named_cap else 'NO'}   {'ok' if m.ok() else 'MISS'}")
        if not m.named_cap:
            print(textwrap.indent(m.output[-2000:], "    "))
        missed |= not m.ok()
    return 1 if missed and not os.environ.get("BENCH_QUICK") else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"some of: {', '.join(CASES)}")
    args = parser.parse_args(argv)
    quick = ["command writing 100 MB"] if os.environ.get("BENCH_QUICK") else BENCH_CASES  # a smoke run: one case
    return asyncio.run(main_async(args.cases or quick))


if __name__ == "__main__":
    sys.exit(main())
