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
other checks' timings. With `--sql` psycopg is imported before the first request: an import in one thread
would hold the interpreter lock for the length of the import while another thread is timing.
Run: python -m checks.timing_worker [--sql]
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import statistics
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


# --------------------------------------------------------------------------- http


def _tls(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:  # the checklist's target.verify_tls: false
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _connection(url: str, timeout: float, verify: bool) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout,
                                           context=_tls(verify)), path
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout), path


def _quickack(sock: socket.socket | None) -> None:
    """ACK the answer's first segment at once. A client's delayed ACK (up to 40 ms on Linux) would otherwise
    hold back a server that writes headers and body separately, on every request after the first on a
    kept-alive connection: time golive's client adds, not the service."""
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if sock is not None and quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


TIMING_USER_AGENT = "golive-timing"


def time_http(req: dict[str, Any]) -> dict[str, Any]:
    """Connect (timed apart), then `count` requests on that connection: each from sending to the last byte."""
    method, url, count = req.get("method", "GET"), req["url"], int(req.get("count", 1))
    # named, so the target's logs (and tests) tell these timed copies from the check's own request
    headers = {"User-Agent": TIMING_USER_AGENT, **dict(req.get("headers") or {})}
    conn, path = _connection(url, float(req.get("timeout", 10)), bool(req.get("verify", True)))
    samples: list[float] = []
    statuses: list[int] = []
    connects: list[float] = []
    timed_at = time.time()
    try:
        for _ in range(count):
            if conn.sock is None:
                started = time.perf_counter()
                conn.connect()
                connects.append(_ms(started))
            started = time.perf_counter()
            conn.request(method, path, headers=headers)
            _quickack(conn.sock)
            response = conn.getresponse()
            body = response.read(BODY_LIMIT)
            samples.append(_ms(started))
            statuses.append(response.status)
            if len(body) >= BODY_LIMIT or response.will_close:
                conn.close()
    except (OSError, http.client.HTTPException) as exc:
        return {"error": _error(exc), "samples_ms": samples, "statuses": statuses, "connect_ms": connects,
                "timed_at": timed_at}
    finally:
        conn.close()
    return {"samples_ms": samples, "statuses": statuses, "connect_ms": connects, "timed_at": timed_at}


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
        stream = sock.makefile("rb")
        if parts.password is not None:
            words = ["AUTH", unquote(parts.username), unquote(parts.password)] if parts.username \
                else ["AUTH", unquote(parts.password)]
            sock.sendall(_resp(*words))
            _reply(stream)
        connect_ms = _ms(started)
        samples = []
        for _ in range(int(req.get("count", 3))):
            started = time.perf_counter()
            sock.sendall(_resp("PING"))
            answer = _reply(stream)
            samples.append(_ms(started))
            if answer != b"+PONG":
                return {"error": f"unexpected PING answer {answer!r}", "samples_ms": samples, "timed_at": timed_at}
        sock.close()
    except (OSError, ConnectionError, ValueError) as exc:
        return {"error": _error(exc), "samples_ms": [], "timed_at": timed_at}
    return {"samples_ms": samples, "connect_ms": [connect_ms], "timed_at": timed_at}


# --------------------------------------------------------------------------- sql


def time_sql(req: dict[str, Any]) -> dict[str, Any]:
    """Connect (timed apart), then the query `count` times on that connection."""
    import psycopg

    timed_at = time.time()
    started = time.perf_counter()
    try:
        with psycopg.connect(req["conninfo"], password=req.get("password"), autocommit=True,
                             connect_timeout=max(2, int(req.get("timeout", 5)))) as conn:
            connect_ms = _ms(started)
            for _ in range(3):  # a new backend's first round trips (catalog caches, page faults) are not the query's
                conn.execute("SELECT 1").fetchall()
            samples = []
            for _ in range(int(req.get("count", 1))):
                started = time.perf_counter()
                conn.execute(req.get("query", "SELECT 1")).fetchall()
                samples.append(_ms(started))
    except psycopg.Error as exc:
        return {"error": _error(exc), "samples_ms": [], "timed_at": timed_at}
    return {"samples_ms": samples, "connect_ms": [connect_ms], "timed_at": timed_at}


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


def main() -> None:
    if "--sql" in sys.argv:
        with contextlib.suppress(ImportError):
            import psycopg  # noqa: F401  (imported now, not while another request is being timed)
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
