"""The timing process: takes latency measurements with clients of its own, outside golive's event loop.

golive's event loop runs dozens of checks at once; while it is busy (parsing a large answer, starting a
subprocess, another check's CPU work) a response that has already arrived waits to be noticed, and a
latency timed in that loop grows by the wait (5-50x on a full run). This process does nothing but the
timed operations, so what it measures is the target's answer time, as an independent client's would be.

It serves one golive process for its whole life (checks.timing) and ends when its stdin closes, after
answering the requests already in flight.

Protocol: one JSON object per line on stdin, `{"id": n, "op": "http" | "redis" | "sql", ...}`; one JSON
reply per line on stdout with the same id. Each request is measured on a thread of its own, at most
`MEASURING` at once: they wait on sockets, not on each other, and a slow target does not hold back the
other checks' timings. With `--sql` psycopg is imported at start, on a thread of its own beside the first
requests (on a loaded machine the import takes seconds they would otherwise wait; kernel-stamped samples do
not mind the interpreter lock it holds).

This process is not alone on the machine either: a full run starts pg_dump, alembic and busy commands beside
it, and a process that is runnable but not running cannot read a clock. So on Linux the kernel times each
request over TCP: SO_TIMESTAMPING stamps the request as it leaves and each answer segment as it arrives, and
a sample is the first send stamp to the last byte's arrival stamp. How long this process then waited for a
CPU before it read the answer (or between taking its clock and sending) is not in the number. That covers
http://, redis:// and SQL over TCP (libpq reads the answer; a peek takes its stamp first, TLS or not); https://
and rediss:// (the TLS layer reads the socket) and Unix sockets are timed by this process's own clock. The
reply's `clock` says which.
Run: python -m checks.timing_worker [--sql]
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import select
import socket
import ssl
import statistics
import struct
import sys
import threading
import time
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

BODY_LIMIT = 1_000_000  # bytes read per answer; a larger body ends the connection (the next sample reconnects)
_write = threading.Lock()
MEASURING = 16  # the runner's default concurrency
_measuring = threading.BoundedSemaphore(MEASURING)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# --------------------------------------------------------------------------- kernel timestamps

KERNEL = "kernel"  # the sample runs from the request's send stamp to the last answer byte's arrival stamp
PROCESS = "process"  # the sample was read from this process's clock
# Linux's SO_TIMESTAMPING (= SCM_TIMESTAMPING) on the architectures whose socket numbers are the generic
# ones; Python's socket module does not name it. Elsewhere the process clock is used.
_SO_TIMESTAMPING = 37 if sys.platform == "linux" and platform.machine() in (
    "x86_64", "amd64", "aarch64", "arm64", "riscv64", "s390x", "ppc64le", "loongarch64") else None
# software stamps for what is sent and what arrives, reported; a send's stamp comes back alone (no payload)
_STAMP_FLAGS = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 7) | (1 << 11)  # TX_SOFTWARE RX_SOFTWARE SOFTWARE OPT_ID TSONLY
_CMSG_SPACE = 512


def _stamp(data: bytes) -> float:
    """The software stamp (the first of three timespecs) in seconds since the epoch; 0.0 when empty."""
    if len(data) < 16:
        return 0.0
    sec, nsec = struct.unpack_from("qq", data)
    return float(sec + nsec / 1e9)


class StampedSocket(socket.socket):
    """A connected TCP socket whose reads keep the kernel's arrival stamp of the last segment read
    (`received_at`), and whose sends' stamps `sent_at()` collects from the error queue."""

    received_at = 0.0
    stamping = False
    _sent: tuple[float, ...] = ()

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """What arrived, its stamp kept. The wait is ours: a send stamp in the error queue makes the socket
        look readable, and Python's own wait would then spin until the answer came."""
        if not self.stamping:
            return super().recv_into(buffer, nbytes, flags)
        view = memoryview(buffer).cast("B")[:nbytes or None]
        timeout = self.gettimeout()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.collect_sent()
            self.settimeout(0.0)
            try:
                n, ancillary, _, _ = self.recvmsg_into([view], _CMSG_SPACE, flags)
            except BlockingIOError:
                n = -1
            finally:
                self.settimeout(timeout)
            if n >= 0:
                self._arrived(n, ancillary)
                return n
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError("timed out")
            select.select([self], [], [], left)

    def _arrived(self, size: int, ancillary: list[tuple[int, int, bytes]]) -> None:
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPING and size:
                self.received_at = _stamp(data) or self.received_at

    def _nonblocking(self, size: int, flags: int) -> tuple[int, list[tuple[int, int, bytes]]] | None:
        """One recvmsg that never waits (with a timeout set, Python would first wait for readability)."""
        if self.fileno() == -1:  # closed: http.client closes a connection the answer said it would close
            return None
        timeout = self.gettimeout()
        if timeout is None:  # a blocking socket (libpq's, shared): its mode stays as its owner set it
            flags |= socket.MSG_DONTWAIT
        else:
            self.settimeout(0.0)
        try:
            data, ancillary, _, _ = self.recvmsg(size, _CMSG_SPACE, flags)
            return len(data), ancillary
        except OSError:  # BlockingIOError: nothing there
            return None
        finally:
            if timeout is not None:
                self.settimeout(timeout)

    def collect_sent(self) -> None:
        """Move the send stamps waiting in the error queue here (a waiting one makes the socket look readable)."""
        while self.stamping and (got := self._nonblocking(1, socket.MSG_ERRQUEUE)) is not None:
            self._sent += tuple(_stamp(d) for level, kind, d in got[1]
                                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPING and _stamp(d))

    def peek_stamp(self) -> bool:
        """Take the arrival stamp of what waits to be read, leaving it there (for a library that reads it);
        False when nothing does (the socket looked readable for a send stamp)."""
        self.collect_sent()
        if not self.stamping:
            return True
        got = self._nonblocking(1 << 16, socket.MSG_PEEK)
        if got is None:
            return False
        self._arrived(*got)
        return True

    def start(self) -> float:
        """Before a request: forget earlier stamps; the process clock as a fallback start."""
        self.collect_sent()
        self._sent, self.received_at = (), 0.0
        return time.time()

    def elapsed_ms(self, started: float) -> tuple[float, str]:
        """After the answer's last byte was read: the kernel's send-to-arrival time, else the process's."""
        now = time.time()
        self.collect_sent()
        if self.stamping and self._sent:
            sent = min(self._sent)
            if started - 0.001 <= sent <= self.received_at <= now:
                return round((self.received_at - sent) * 1000, 2), KERNEL
        return round((now - started) * 1000, 2), PROCESS


def stamped(sock: socket.socket) -> StampedSocket:
    """The same connection as a StampedSocket, with kernel stamping on where the platform has it."""
    timeout = sock.gettimeout()
    out = StampedSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    if timeout is not None:  # None: the descriptor's own mode is kept (libpq's socket is libpq's)
        out.settimeout(timeout)
    if _SO_TIMESTAMPING is not None and out.family in (socket.AF_INET, socket.AF_INET6):
        try:
            out.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPING, _STAMP_FLAGS)
            out.stamping = True
        except OSError:
            out.stamping = False
    return out


# --------------------------------------------------------------------------- http


def _tls(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:  # the checklist's target.verify_tls: false
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _StampedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP on a StampedSocket: the kernel times each request (see the module's docstring)."""

    def connect(self) -> None:
        super().connect()
        self.sock = stamped(self.sock)


def _connection(url: str, timeout: float, verify: bool) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout,
                                           context=_tls(verify)), path
    return _StampedHTTPConnection(parts.hostname or "", parts.port, timeout=timeout), path


def _elapsed_ms(sock: object, started: float, wall: float) -> tuple[float, str]:
    """The kernel's time for the request on a StampedSocket, else this process's since `started`."""
    if isinstance(sock, StampedSocket):
        return sock.elapsed_ms(wall)
    return _ms(started), PROCESS


def _quickack(sock: socket.socket | None) -> None:
    """Leave delayed-ACK mode before the answer comes. A client's delayed ACK (up to 40 ms on Linux) would
    otherwise hold back a server that writes headers and body separately, on every request after the first
    on a kept-alive (TLS) connection: time golive's client adds, not the service. It only narrows that: the
    ACK still waits until this process reads, which is why plain HTTP takes a new connection per sample."""
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if sock is not None and quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


TIMING_USER_AGENT = "golive-timing"


def time_http(req: dict[str, Any]) -> dict[str, Any]:
    """`count` requests, each from sending to the last byte; connecting is timed apart. Over plain HTTP each
    request has a connection of its own (curl's way): on a reused connection the kernel delays its ACK of the
    answer's first segment until this process reads it (or a 40 ms timer fires), and a server that writes its
    headers and body apart (Nagle) holds the body back for that ACK, so this process's own wait for a CPU
    would be in even a kernel-stamped sample (20-60 ms on a loaded machine). A new connection's first
    segments are ACKed by the kernel at once. Over TLS (timed by this process's clock anyway) the connection
    is reused: a handshake per sample would cost the target more than it tells."""
    method, url, count = req.get("method", "GET"), req["url"], int(req.get("count", 1))
    # named, so the target's logs (and tests) tell these timed copies from the check's own request
    headers = {"User-Agent": TIMING_USER_AGENT, **dict(req.get("headers") or {})}
    conn, path = _connection(url, float(req.get("timeout", 10)), bool(req.get("verify", True)))
    samples: list[float] = []
    statuses: list[int] = []
    connects: list[float] = []
    clocks: set[str] = set()
    timed_at = time.time()
    try:
        for _ in range(count):
            if conn.sock is None:
                started = time.perf_counter()
                conn.connect()
                connects.append(_ms(started))
            sock = conn.sock
            wall = sock.start() if isinstance(sock, StampedSocket) else time.time()
            started = time.perf_counter()
            conn.request(method, path, headers=headers)
            _quickack(conn.sock)
            response = conn.getresponse()
            body = response.read(BODY_LIMIT)
            sample, clock = _elapsed_ms(sock, started, wall)
            samples.append(sample)
            clocks.add(clock)
            statuses.append(response.status)
            if len(body) >= BODY_LIMIT or response.will_close or isinstance(sock, StampedSocket):
                conn.close()
    except (OSError, http.client.HTTPException) as exc:
        return {"error": _error(exc), "samples_ms": samples, "statuses": statuses, "connect_ms": connects,
                "timed_at": timed_at}
    finally:
        conn.close()
    return {"samples_ms": samples, "statuses": statuses, "connect_ms": connects, "timed_at": timed_at,
            "timed_until": time.time(), "clock": _clock(clocks)}


def _clock(clocks: set[str]) -> str:
    return KERNEL if clocks == {KERNEL} else PROCESS


# --------------------------------------------------------------------------- redis (RESP over a socket)


def _resp(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _reply(stream: BinaryIO) -> bytes:
    line: bytes = stream.readline(65536)
    if not line:
        raise ConnectionError("the server closed the connection")
    if line.startswith(b"-"):
        raise ConnectionError(line[1:].strip().decode(errors="replace"))
    return line.strip()


def time_redis_ping(req: dict[str, Any]) -> dict[str, Any]:
    """Connect and authenticate (timed apart), then `count` PINGs on that connection."""
    parts = urlsplit(req["url"])
    timeout = float(req.get("timeout", 5))
    timed_at = time.time()
    started = time.perf_counter()
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(parts.path)
        else:
            sock = socket.create_connection((parts.hostname or "localhost", parts.port or 6379), timeout=timeout)
            if parts.scheme == "rediss":
                sock = _tls(bool(req.get("verify", True))).wrap_socket(sock, server_hostname=parts.hostname)
        if parts.scheme != "unix":
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if parts.scheme == "redis":
            sock = stamped(sock)
        stream = sock.makefile("rb")
        if parts.password is not None:
            words = ["AUTH", unquote(parts.username), unquote(parts.password)] if parts.username \
                else ["AUTH", unquote(parts.password)]
            sock.sendall(_resp(*words))
            _reply(stream)
        connect_ms = _ms(started)
        samples = []
        clocks: set[str] = set()
        for _ in range(int(req.get("count", 3))):
            wall = sock.start() if isinstance(sock, StampedSocket) else time.time()
            started = time.perf_counter()
            sock.sendall(_resp("PING"))
            answer = _reply(stream)
            sample, clock = _elapsed_ms(sock, started, wall)
            samples.append(sample)
            clocks.add(clock)
            if answer != b"+PONG":
                return {"error": f"unexpected PING answer {answer!r}", "samples_ms": samples, "timed_at": timed_at}
        sock.close()
    except (OSError, ConnectionError, ValueError) as exc:
        return {"error": _error(exc), "samples_ms": [], "timed_at": timed_at}
    return {"samples_ms": samples, "connect_ms": [connect_ms], "timed_at": timed_at, "timed_until": time.time(),
            "clock": _clock(clocks)}


# --------------------------------------------------------------------------- sql


def _stamped_query(conn: Any, sock: StampedSocket, query: str, timeout: float) -> tuple[float, str]:
    """One query by libpq's asynchronous calls, its answer's segments stamped as they arrive: before libpq
    reads what came in, a peek at the socket takes the kernel's arrival stamp (TLS or not: the stamp is TCP's)."""
    import psycopg
    from psycopg import pq

    pgconn = conn.pgconn
    wall = sock.start()
    started = time.perf_counter()
    pgconn.send_query(query.encode())
    while pgconn.flush():
        select.select([], [sock], [], timeout)
    while pgconn.is_busy():
        if not select.select([sock], [], [], timeout)[0]:
            raise TimeoutError(f"no answer to the query within {timeout:g} s")
        if sock.peek_stamp():
            pgconn.consume_input()
    sample = sock.elapsed_ms(wall) if sock.stamping else (_ms(started), PROCESS)
    failed = ""
    while (result := pgconn.get_result()) is not None:  # every result read, so the connection is idle again
        if result.status == pq.ExecStatus.FATAL_ERROR:
            failed = failed or (result.error_message or b"").decode(errors="replace").strip()
    if failed:
        raise psycopg.Error(failed)
    return sample


def time_sql(req: dict[str, Any]) -> dict[str, Any]:
    """Connect (timed apart), then the query `count` times on that connection."""
    import psycopg

    timed_at = time.time()
    started = time.perf_counter()
    timeout = float(req.get("timeout", 5))
    try:
        with psycopg.connect(req["conninfo"], password=req.get("password"), autocommit=True,
                             connect_timeout=max(2, int(timeout))) as conn:
            connect_ms = _ms(started)
            for _ in range(3):  # a new backend's first round trips (catalog caches, page faults) are not the query's
                conn.execute("SELECT 1").fetchall()
            samples = []
            clocks: set[str] = set()
            sock = stamped(socket.socket(fileno=os.dup(conn.pgconn.socket)))  # the same connection; closed below
            try:
                for _ in range(int(req.get("count", 1))):
                    sample, clock = _stamped_query(conn, sock, req.get("query", "SELECT 1"), timeout)
                    samples.append(sample)
                    clocks.add(clock)
            finally:
                sock.close()
    except (psycopg.Error, OSError) as exc:
        return {"error": _error(exc), "samples_ms": [], "timed_at": timed_at}
    return {"samples_ms": samples, "connect_ms": [connect_ms], "timed_at": timed_at, "timed_until": time.time(),
            "clock": _clock(clocks)}


OPS = {"http": time_http, "redis": time_redis_ping, "sql": time_sql}


def serve_one(req: dict[str, Any]) -> None:
    try:
        # a slot within the request's own timeout: measuring threads a stopped target holds never queue the
        # other checks' timings for ever
        if not _measuring.acquire(timeout=float(req.get("timeout", 10))):
            raise TimeoutError(f"{MEASURING} timings already in progress")
        try:
            reply = OPS[req["op"]](req)
        finally:
            _measuring.release()
    except Exception as exc:  # a bad request is answered, never fatal to the other checks' timings
        reply = {"error": _error(exc), "samples_ms": []}
    if reply.get("samples_ms"):
        reply["median_ms"] = round(statistics.median(reply["samples_ms"]), 2)
    reply["id"] = req.get("id")
    line = json.dumps(reply) + "\n"
    with _write:
        sys.stdout.write(line)
        sys.stdout.flush()


def _import_psycopg() -> None:
    with contextlib.suppress(ImportError):
        import psycopg  # noqa: F401


def main() -> None:
    # A thread waiting for the interpreter lock gets it within this (default 5 ms): what a sample timed by
    # this process's clock (TLS, a Unix socket) can carry of another thread's Python work.
    sys.setswitchinterval(0.0005)
    if "--sql" in sys.argv:  # beside the first requests, not before them: on a loaded machine the import
        threading.Thread(target=_import_psycopg, daemon=True).start()  # takes seconds they would wait
    threads: list[threading.Thread] = []
    for line in sys.stdin:
        if line.strip():
            threads = [t for t in threads if t.is_alive()]
            threads.append(threading.Thread(target=serve_one, args=(json.loads(line),), daemon=True))
            threads[-1].start()
    for thread in threads:  # stdin closed: the requests in flight still answer (each ends by its own timeout)
        thread.join()


if __name__ == "__main__":
    main()
