"""Running the demo target on a free loopback port in a background thread.

Tests and the `demo: true` checklist start it many times per process, so starting and stopping
must be quick and leave nothing behind: the socket is bound here (no port race), uvicorn runs in
its own thread and event loop, and stopping ends long pauses at once instead of waiting them out.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from bot.demo.target import TargetState, create_app


class _QuickServer(uvicorn.Server):
    """uvicorn checks for a stop request every 100 ms; tests stop servers often, so look every 20 ms."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.02)


class DemoServer:
    """A running demo target: `.base_url`, `.state` (switch its behaviour), `.stop()`.

    Usable as `with serve_target() as t:` and `async with serve_target() as t:`; stopping twice is fine.
    """

    def __init__(self, state: TargetState, *, host: str = "127.0.0.1", port: int = 0,
                 startup_timeout: float = 5.0) -> None:
        self.state = state
        self._stopping = threading.Event()
        # proto IPPROTO_TCP, not 0: asyncio only turns Nagle off (TCP_NODELAY) on sockets marked TCP,
        # and without it every answer waits ~40 ms for a delayed ACK.
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                                   socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise
        self.host, self.port = self._sock.getsockname()[:2]
        shown_host = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{shown_host}:{self.port}"
        config = uvicorn.Config(
            create_app(state, self._stopping),
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            loop="asyncio",
            http="h11",
            ws="none",
            timeout_keep_alive=2,
            timeout_graceful_shutdown=1,
        )
        self._server = _QuickServer(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"golive-demo-target:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"demo target did not start on {self.base_url}")
            time.sleep(0.002)

    def url(self, path: str = "/") -> str:
        return self.base_url + "/" + path.lstrip("/")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def set(self, **changes: Any) -> TargetState:
        """Shortcut for `state.set(...)`: `server.set(mode="degraded")`."""
        return self.state.set(**changes)

    def _request_stop(self) -> None:
        self._stopping.set()
        self._server.should_exit = True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server and wait for its thread (blocks at most `timeout`)."""
        self._request_stop()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._sock.close()

    async def astop(self, timeout: float = 5.0) -> None:
        """Like stop(), without blocking the caller's event loop while uvicorn shuts down."""
        self._request_stop()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        self.stop(timeout=0.1)

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> DemoServer:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.astop()

    def __repr__(self) -> str:
        return f"<DemoServer {self.base_url} mode={self.state.mode} running={self.running}>"


def serve_target(state: TargetState | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 startup_timeout: float = 5.0, **settings: Any) -> DemoServer:
    """Start the demo target now and return it; `settings` go to a new TargetState (e.g. legacy=...).

    Returns once it accepts connections. Use as a (sync or async) context manager, or call `.stop()`.
    """
    if state is None:
        state = TargetState(**settings)
    elif settings:
        state.set(**settings)
    return DemoServer(state, host=host, port=port, startup_timeout=startup_timeout)
