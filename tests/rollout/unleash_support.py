"""A real Unleash server for the unleash provider tests: the `unleash-server` npm package pinned in
tests/unleash/package-lock.json, run with Node on a database of its own (`golive_unleash`) in the local
PostgreSQL, on a free port. One per test session (the tests share it through per-test flag names); it is
installed with `npm ci` when tests/unleash/node_modules is missing, so `pytest -q` works on a fresh clone.
Only the process started here is ever stopped.

Also the pieces the tests drive it with: the admin API as "someone else" (creating flags, editing their
strategies), and a TCP relay in front of it that can go down mid-promotion."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.conftest import PG_URL

PACKAGE = Path(__file__).resolve().parents[1] / "unleash"
DATABASE = "golive_unleash"
ADMIN_TOKEN = "*:*.golive-tests-unleash-admin-token"
"""An admin token the server creates at start-up (INIT_ADMIN_API_TOKENS); it guards a 127.0.0.1 test server."""
START_TIMEOUT = 240.0


@dataclass
class UnleashServer:
    url: str
    token: str
    pid: int
    startup_seconds: float
    rss_mb: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _install() -> None:
    """`npm ci` from the lock file, without install scripts (Unleash needs none)."""
    if (PACKAGE / "node_modules" / "unleash-server" / "package.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("the unleash provider tests need Node 20+ and npm on PATH (tests/unleash)")
    done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=PACKAGE,
                          capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"npm ci in tests/unleash failed: {done.stderr.strip()[-2000:]}")


def _database() -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another session created it meanwhile
                conn.execute(f'CREATE DATABASE "{DATABASE}"')  # type: ignore[arg-type]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def unleash_server(log_path: Path) -> Iterator[UnleashServer]:
    _install()
    _database()
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("the unleash provider tests need Node 20+ on PATH")
    conninfo = psycopg.conninfo.conninfo_to_dict(PG_URL)
    port = _free_port()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(log_path.parent), "TZ": "UTC",
           "UNLEASH_PORT": str(port), "UNLEASH_DATABASE": DATABASE,
           "UNLEASH_DB_HOST": str(conninfo.get("host") or "127.0.0.1"),
           "UNLEASH_DB_PORT": str(conninfo.get("port") or 5432),
           "UNLEASH_DB_USER": str(conninfo.get("user") or "postgres"),
           "UNLEASH_DB_PASSWORD": str(conninfo.get("password") or ""),
           "INIT_ADMIN_API_TOKENS": ADMIN_TOKEN, "CHECK_VERSION": "false", "SEND_TELEMETRY": "false",
           "SCARF_ANALYTICS": "false", "DO_NOT_TRACK": "1"}
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen([node, "server.mjs"], cwd=PACKAGE, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"unleash exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() - started > START_TIMEOUT:
                raise RuntimeError(f"unleash did not answer /health within {START_TIMEOUT:g}s: "
                                   f"{log_path.read_text()[-2000:]}")
            time.sleep(0.25)
        yield UnleashServer(url=url, token=ADMIN_TOKEN, pid=process.pid,
                            startup_seconds=round(time.monotonic() - started, 1), rss_mb=round(_rss_mb(process.pid)))
    finally:
        process.terminate()  # ours only: the Popen started above
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class UnleashAdmin:
    """Someone else at the Unleash admin API: creates the flags a test uses (unique names) and edits them."""

    def __init__(self, server: UnleashServer, project: str = "default", environment: str = "production") -> None:
        self.client = httpx.Client(base_url=server.url, headers={"Authorization": server.token}, timeout=10)
        self.project = project
        self.environment = environment

    def flag(self, stem: str) -> str:
        name = f"golive_{stem}_{uuid.uuid4().hex[:8]}"
        self.client.post(f"/api/admin/projects/{self.project}/features", json={"name": name}).raise_for_status()
        return name

    def _env(self, name: str) -> str:
        return f"/api/admin/projects/{self.project}/features/{name}/environments/{self.environment}"

    def state(self, name: str) -> dict[str, Any]:
        """{enabled, strategies} with each strategy as it behaves (no id or order)."""
        body = self.client.get(self._env(name)).raise_for_status().json()
        return {"enabled": body["enabled"],
                "strategies": [{"name": s["name"], "parameters": s.get("parameters") or {},
                                "constraints": s.get("constraints") or [], "disabled": bool(s.get("disabled"))}
                               for s in body["strategies"]]}

    def strategies(self, name: str) -> list[dict[str, Any]]:
        return list(self.client.get(self._env(name)).raise_for_status().json()["strategies"])

    def add_strategy(self, name: str, strategy: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.post(f"{self._env(name)}/strategies", json=strategy).raise_for_status().json())

    def update_strategy(self, name: str, strategy_id: str, strategy: dict[str, Any]) -> None:
        self.client.put(f"{self._env(name)}/strategies/{strategy_id}", json=strategy).raise_for_status()

    def switch(self, name: str, on: bool) -> None:
        self.client.post(f"{self._env(name)}/{'on' if on else 'off'}").raise_for_status()

    def close(self) -> None:
        self.client.close()


class Relay:
    """A TCP relay in front of Unleash that can go down: `down_after(n)` lets n more write requests
    (POST/PUT/DELETE) through, then drops every connection and refuses new ones, as a crashed server does;
    `blip_after(n)` drops only the connection carrying the next write (a network blip), then relays again."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.server: asyncio.Server | None = None
        self.writes_left: int | None = None
        self.blip = False
        self.down = False
        self.writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> Relay:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def down_after(self, writes: int) -> None:
        self.writes_left, self.blip = writes, False

    def blip_after(self, writes: int) -> None:
        self.writes_left, self.blip = writes, True

    async def _go_down(self) -> None:
        self.down = True
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers += [writer, up_writer]

        async def client_to_upstream() -> None:
            while data := await reader.read(65536):
                if data.split(b" ", 1)[0] in (b"POST", b"PUT", b"DELETE") and self.writes_left is not None:
                    if self.writes_left <= 0:
                        if self.blip:
                            self.writes_left = None
                            writer.close()
                            up_writer.close()
                        else:
                            await self._go_down()
                        return
                    self.writes_left -= 1
                up_writer.write(data)
                await up_writer.drain()

        async def upstream_to_client() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()

        with contextlib.suppress(OSError, ConnectionError):
            await asyncio.gather(client_to_upstream(), upstream_to_client())
        for w in (writer, up_writer):
            w.close()

    async def come_back(self) -> None:
        """Listen again on the same port: the server is back."""
        self.down, self.writes_left, self.writers = False, None, []
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        await self._go_down()
