"""Running the demo target on a free loopback port in a background thread.

Tests and the `demo: true` checklist start it many times per process, so starting and stopping
must be quick and leave nothing behind: the socket is bound here (no port race), the aiohttp app
runs in its own thread and event loop, and stopping ends long pauses at once instead of waiting them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.demo.target import TargetState, create_app

# How long a stop waits for an answer still being written before it cuts the connection. Pauses (slow
# mode, the cold query) end the moment a stop begins, so this only bounds a client that reads slowly.
SHUTDOWN_GRACE_S = 0.1


class DemoServer:
    """A running demo target: `.base_url`, `.state` (switch its behaviour), `.stop()`.

    Usable as `with serve_target() as t:` and `async with serve_target() as t:`; stopping twice is fine.
    """

    def __init__(self, state: TargetState, *, host: str = "127.0.0.1", port: int = 0,
                 startup_timeout: float = 5.0) -> None:
        self.state = state
        self._stop_requested = threading.Event()
        self._started = threading.Event()
        self._error: BaseException | None = None
        # proto IPPROTO_TCP, not 0: asyncio only turns Nagle off (TCP_NODELAY) on sockets marked TCP,
        # and without it every answer waits ~40 ms for a delayed ACK.
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                                   socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
            self._sock.listen(128)
        except OSError:
            self._sock.close()
            raise
        self.host, self.port = self._sock.getsockname()[:2]
        shown_host = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{shown_host}:{self.port}"
        self._loop = asyncio.new_event_loop()
        # Set inside the loop when a stop begins: ends pauses and lets the serving coroutine clean up.
        self._stopping = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name=f"golive-demo-target:{self.port}", daemon=True)
        self._thread.start()
        if not self._started.wait(startup_timeout) or self._error is not None:
            self.stop()
            raise RuntimeError(f"demo target did not start on {self.base_url}: {self._error or 'timed out'}")

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by __init__ when it happens before the start
            self._error = exc
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            self._started.set()  # a failed start wakes __init__ at once, with the error

    async def _serve(self) -> None:
        runner = web.AppRunner(create_app(self.state, self._stopping), access_log=None, handle_signals=False,
                               shutdown_timeout=SHUTDOWN_GRACE_S, keepalive_timeout=2)
        await runner.setup()
        try:
            await web.SockSite(runner, self._sock).start()
            self._started.set()
            if not self._stop_requested.is_set():
                await self._stopping.wait()
        finally:
            self._stopping.set()
            await runner.cleanup()

    def url(self, path: str = "/") -> str:
        return self.base_url + "/" + path.lstrip("/")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def set(self, **changes: Any) -> TargetState:
        """Shortcut for `state.set(...)`: `server.set(mode="degraded")`."""
        return self.state.set(**changes)

    def _request_stop(self) -> None:
        self._stop_requested.set()
        with contextlib.suppress(RuntimeError):  # the loop has already finished
            self._loop.call_soon_threadsafe(self._stopping.set)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server and wait for its thread (blocks at most `timeout`)."""
        self._request_stop()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._sock.close()

    async def astop(self, timeout: float = 5.0) -> None:
        """Like stop(), without blocking the caller's event loop while the server shuts down."""
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
