"""What the bot benchmarks share: a local Slack Web API stub, the bot as a real `golive serve --http`
process, signed Slack requests, and the process's memory.

The bot runs in its own process (as in production) so the load generator's CPU and the bot's are
not the same event loop, and so its RSS is the bot's alone. Tests reuse this harness.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode
from urllib.request import urlopen

from aiohttp import ClientSession, web

SIGNING_SECRET = "bench-signing-secret-0123456789"
BOT_TOKEN = "xoxb-bench-fake-token-not-real"
CHANNEL = "C0BENCH"
LEADS = {"tech_lead": "U0LEAD", "devops_lead": "U0OPS", "product_owner": "U0PO"}
REQUESTER = "U0REQ"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 500 samples is the 495th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-round(pct * len(ordered)) // 100)))
    return ordered[rank - 1]


# -- Slack Web API stub ---------------------------------------------------------------------------
@dataclass
class SlackStub:
    """Answers the Web API methods the bot calls, records every call; runs in its own thread and loop."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    _ts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str = "r") -> str:
        return f"http://127.0.0.1:{self.port}/respond/{key}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            args = await request.json()
        else:
            args = {k: v for k, v in (await request.post()).items()}
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        self.calls.append((method, {**args, "_ts": ts}))
        answers: dict[str, dict[str, Any]] = {
            "auth.test": {"user_id": "U0BOT", "bot_id": "B0BOT", "team_id": "T0BENCH", "team": "bench",
                          "url": "https://bench.slack.com/"},
            "chat.postMessage": {"channel": args.get("channel", CHANNEL), "ts": ts,
                                 "message": {"ts": ts, "text": args.get("text", "")}},
            "chat.update": {"channel": args.get("channel", CHANNEL), "ts": args.get("ts", ts)},
            "chat.postEphemeral": {"message_ts": ts},
            "usergroups.users.list": {"users": []},
        }
        return web.json_response({"ok": True, **answers.get(method, {})})

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.text()
        args = json.loads(body) if body.startswith("{") else {"raw": body}
        self.calls.append(("response_url", {**args, "_key": request.match_info["key"]}))
        return web.Response(text="ok")

    def start(self) -> SlackStub:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/api/{method}", self._api)
            app.router.add_post("/respond/{key}", self._respond)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="slack-stub", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def methods(self, name: str) -> list[dict[str, Any]]:
        return [args for method, args in list(self.calls) if method == name]


# -- signed requests -------------------------------------------------------------------------------
def signed_headers(body: str, secret: str = SIGNING_SECRET, ts: int | None = None) -> dict[str, str]:
    stamp = str(ts or int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}


def slash_command(text: str, *, user: str = REQUESTER, response_url: str = "", channel: str = CHANNEL) -> str:
    return urlencode({
        "token": "legacy", "team_id": "T0BENCH", "team_domain": "bench", "channel_id": channel,
        "channel_name": "release", "user_id": user, "user_name": user.lower(), "command": "/golive",
        "text": text, "api_app_id": "A0BENCH", "response_url": response_url,
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:10]}",
    })


def button_click(action_id: str, value: str, *, user: str, message_ts: str, response_url: str = "",
                 channel: str = CHANNEL) -> str:
    payload = {
        "type": "block_actions", "api_app_id": "A0BENCH", "token": "legacy",
        "team": {"id": "T0BENCH", "domain": "bench"}, "user": {"id": user, "name": user.lower()},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "channel": {"id": channel, "name": "release"}, "message": {"ts": message_ts, "type": "message"},
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:10]}", "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "roles", "value": value, "type": "button",
                     "action_ts": f"{time.time():.6f}{uuid.uuid4().int % 1000:03d}"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def button_values(blocks: Any) -> list[tuple[str, str]]:
    """(action_id, value) of every button in a Block Kit message."""
    found: list[tuple[str, str]] = []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for block in blocks or []:
        for element in (block.get("elements") or []) + ([block["accessory"]] if "accessory" in block else []):
            if element.get("type") == "button":
                found.append((element.get("action_id", ""), element.get("value", "")))
    return found


# -- the bot process -------------------------------------------------------------------------------
def bench_checklist(target_url: str) -> str:
    """Sign-off roles mapped to known users, a quick HTTP phase and a slow one (a 3 s command)."""
    roles = "\n".join(f"        - {{id: {rid}, title: {rid.replace('_', ' ').title()}, members: [{uid}]}}"
                      for rid, uid in LEADS.items())
    checks = "\n".join(f"      - {{id: probe{i}, kind: http, criticality: high, timeout: 5, "
                       f"params: {{url: /healthz/live}}}}" for i in range(5))
    return (f"name: bench\nvars: {{TARGET: '{target_url}'}}\ntarget: {{base_url: '${{TARGET}}'}}\n"
            f"phases:\n  - id: quick\n    checks:\n{checks}\n"
            f"  - id: slow\n    checks:\n      - {{id: slow.wait, kind: command, criticality: low, timeout: 30, "
            f"params: {{command: [sleep, '3']}}}}\n"
            f"signoffs:\n  pre:\n    title: Before deploy\n    roles:\n{roles}\n")


class BotProcess:
    """`golive serve --http` in a child process, against the stub; stopped with SIGTERM."""

    def __init__(self, stub: SlackStub, checklist: Path, *, state_dir: Path, database_url: str | None = None,
                 redis_url: str | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_", "TEAMS_"))}
        env.update({
            "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "GOLIVE_SLACK_API_URL": stub.url, "GOLIVE_STATE_DIR": str(state_dir),
            "GOLIVE_CHECKLIST": str(checklist), "GOLIVE_LOG_FORMAT": "json", "GOLIVE_LOG_LEVEL": "WARNING",
            "GOLIVE_SLACK_CHANNEL": CHANNEL, "GOLIVE_PROGRESS_INTERVAL": "0.5", "PYTHONUNBUFFERED": "1",
            "GOLIVE_POST_INTERVAL": "0",  # the stand-in enforces no per-channel limit: measure the bot, not pacing
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        })
        if database_url:
            env["GOLIVE_DATABASE_URL"] = database_url
            env["GOLIVE_AUDIT_KEY"] = "bench-harness-audit-key-0123456789"  # a shared store needs a configured key
        if redis_url:
            env["GOLIVE_REDIS_URL"] = redis_url
        env.update(extra_env or {})
        self.env = env
        self.log_path = state_dir / "bot.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> BotProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, cwd=str(self.log_path.parent), stdout=log, stderr=subprocess.STDOUT)
        self._wait_started(timeout)
        return self

    def _wait_started(self, timeout: float) -> None:
        """Poll /healthz/startup (blocking: callers may or may not run an event loop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError), urlopen(self.base_url + "/healthz/startup", timeout=2) as resp:
                if resp.status == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"the bot did not start in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def memory_kb(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak) of the bot process, in kB, from /proc."""
        assert self.proc is not None
        out: dict[str, int] = {}
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
        return out

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def __enter__(self) -> BotProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RssSampler:
    """Samples the bot's VmRSS every `interval` s in a thread; `peak_kb` is the largest seen."""

    def __init__(self, bot: BotProcess, interval: float = 0.02) -> None:
        self.bot = bot
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KeyError):
                self.peak_kb = max(self.peak_kb, self.bot.memory_kb()["VmRSS"])
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@contextlib.contextmanager
def running_bot(*, database_url: str | None = None, redis_url: str | None = None,
                extra_env: dict[str, str] | None = None) -> Iterator[tuple[BotProcess, SlackStub]]:
    """A demo target, the Slack stub, the bench checklist and the bot process, torn down in order."""
    from bot.demo.server import serve_target

    stub = SlackStub().start()
    workdir = Path(tempfile.mkdtemp(prefix="golive-bench-"))
    try:
        with serve_target() as target:
            checklist = workdir / "bench.yml"
            checklist.write_text(bench_checklist(target.base_url), encoding="utf-8")
            bot = BotProcess(stub, checklist, state_dir=workdir / "state", database_url=database_url,
                             redis_url=redis_url, extra_env=extra_env)
            with bot:
                yield bot, stub
    finally:
        stub.stop()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


async def post_signed(http: ClientSession, url: str, body: str) -> tuple[int, float]:
    """POST a signed Slack request; (status, milliseconds until the response was complete)."""
    headers = signed_headers(body)
    started = time.perf_counter()
    async with http.post(url, data=body.encode(), headers=headers) as resp:
        await resp.read()
        return resp.status, (time.perf_counter() - started) * 1000


async def open_signoff_card(http: ClientSession, bot: BotProcess, stub: SlackStub, stage: str = "pre",
                            timeout: float = 10.0) -> tuple[str, list[tuple[str, str]]]:
    """`/golive signoff <stage>` → (the card's ts, its buttons), from what the bot posted to the stub."""
    before = len(stub.methods("chat.postMessage"))
    status, _ = await post_signed(http, bot.base_url + "/slack/events", slash_command(f"signoff {stage}"))
    assert status == 200, status
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        posts = stub.methods("chat.postMessage")[before:]
        for post in posts:
            buttons = button_values(post.get("blocks"))
            if buttons:
                return post["_ts"], buttons
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no sign-off card was posted:\n{bot.log()}")


def query_string(body: str) -> dict[str, list[str]]:
    return parse_qs(body)
