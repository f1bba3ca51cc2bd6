"""Honest latency during a full run: every latency a check reports vs an independent client's measurement
of the same thing at the same moment, while CPU-heavy checks run beside them.

The run: one checklist with a target of known delays (0, 15, 200 ms; its own process), HTTP probes of
each delay (with and without a `max_latency_ms` ceiling), Redis PING, a SQL query, and beside them
pg_dump of a database with 300k rows, `alembic upgrade head --sql`, `alembic current` and four
busy-loop commands (Python `while True` for a few seconds each). An independent client — a process of
its own, like curl a fresh HTTP connection per request, timed from sending to the last byte (curl's
time_total - time_connect) — measures the same URLs, Redis PING and the SQL query round-robin during the
whole run.

The target and the independent client are favoured by the scheduler where the bench may (real-time round
robin as root, else nice -10): a real target runs on a machine of its own, and an honest external client is
not starved by golive's load. golive is not favoured. Without that the comparison measured the sharing of
two cores, not golive: at nice -10 (this kernel's EEVDF scheduler does not run a waking task at once for
it) the target answered 0 and 15 ms requests 20-80 ms late in bursts, seen at the same instant by every
independent client process; golive's one sample (no ceiling) landed on a spike or beside one, against the
client's median of ten (22-23 of 24). And a client on a kept-alive connection, starved, delayed its own ACK
and so the target's body (the target writes headers and body apart): 30-60 ms that were the client's.

For each reported latency: the independent client's median over the window the check's timing process
sampled in (±0.5 s around `timed_at`). Bound (issue 20): reported within 20 % + 10 ms of it. The
"event loop" column is what golive measured for the same check in its own event loop (`event_loop_ms`),
for comparison: that number is what used to be reported.

Run: python -m bench.latency_under_load  [--trials N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from checks.loader import parse_checklist
from checks.runner import Runner

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("GOLIVE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GOLIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ALEMBIC_DIR = ROOT / "tests" / "fixtures" / "alembic_project"
DELAYS_MS = (0, 15, 200)

TARGET = """
import sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a): pass
    def do_GET(self):
        delay = int(self.path.strip('/').split('d')[-1] or 0) if self.path.startswith('/d') else 0
        time.sleep(delay / 1000)
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = ThreadingHTTPServer(('127.0.0.1', 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

# The independent client: a process of its own per thing it measures, its own code (raw sockets, nothing of
# golive's): per delay one like curl (a fresh connection per request, as golive times every HTTP sample);
# Redis PING; SELECT 1. It writes
# two numbers per request: the time from sending to the last byte by its own clock (what curl prints), and by
# the kernel's send and arrival stamps (SO_TIMESTAMPING), which do not grow when this process waits for a
# CPU. On a loaded machine the clock number is the client's own starvation plus the target's time; the
# stamped one is the target's time.
CLIENT = """
import json, os, select, socket, struct, sys, time
what, host, port, rest = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
SO_TIMESTAMPING = 37
FLAGS = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 7) | (1 << 11)

def stamps(ancillary):
    return [sec + nsec / 1e9 for level, kind, data in ancillary if level == socket.SOL_SOCKET
            and kind == SO_TIMESTAMPING and len(data) >= 16 for sec, nsec in [struct.unpack_from('qq', data)]
            if sec]

def stamping(s):
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, FLAGS)
    return s

def connect():
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(None)  # blocking: MSG_DONTWAIT where a call must not wait
    return stamping(s)

def sent(s):
    out = []
    while True:
        try:
            out += stamps(s.recvmsg(1, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)[1])
        except OSError:
            return min(out) if out else 0.0

def exchange(s, send, complete, read):
    sent(s)
    started = time.time()
    send()
    first, arrived, data = 0.0, 0.0, b''
    while not complete(data):
        select.select([s], [], [], 10)  # readable: an answer, or a send stamp in the error queue
        first = first or sent(s)
        try:
            chunk, ancillary, _, _ = s.recvmsg(65536, 512, socket.MSG_DONTWAIT | (socket.MSG_PEEK if read else 0))
        except BlockingIOError:
            continue
        if not chunk:
            break
        arrived = (stamps(ancillary) or [arrived])[-1]
        data = read() if read else data + chunk
    ended = time.time()
    first = first or sent(s)
    return started, (arrived - first) * 1000 if first and arrived else float('nan'), (ended - started) * 1000

def http_complete(data):
    head, sep, body = data.partition(b'\\r\\n\\r\\n')
    if not sep:
        return False
    length = [int(l.split(b':')[1]) for l in head.split(b'\\r\\n') if l.lower().startswith(b'content-length:')]
    return len(body) >= (length[0] if length else 0)

out = sys.stdout
if what == 'sql':  # libpq reads the answer; a peek before it does takes the arrival stamp
    import psycopg
    pg = psycopg.connect(rest, autocommit=True)
    for _ in range(3):
        pg.execute('SELECT 1').fetchall()
    pgc = pg.pgconn
    ps = stamping(socket.socket(fileno=os.dup(pgc.socket)))

    def query_read():
        pgc.consume_input()
        return b'' if pgc.is_busy() else b'done'
r = connect() if what == 'redis' else None
while True:
    if what == 'http':  # like curl: a fresh connection per request
        s = connect()
        request = f'GET {rest} HTTP/1.1\\r\\nHost: {host}:{port}\\r\\nConnection: close\\r\\n\\r\\n'.encode()
        started, stamped, clocked = exchange(s, lambda: s.sendall(request), http_complete, None)
        s.close()
        key = 'http:' + rest
    elif what == 'redis':
        started, stamped, clocked = exchange(r, lambda: r.sendall(b'*1\\r\\n$4\\r\\nPING\\r\\n'),
                                             lambda d: d.endswith(b'\\r\\n'), None)
        key = 'redis'
    else:
        def send():
            pgc.send_query(b'SELECT 1')
            pgc.flush()
        started, stamped, clocked = exchange(ps, send, lambda d: d == b'done', query_read)
        while pgc.get_result() is not None:
            pass
        key = 'sql'
    out.write(json.dumps([started, key, stamped, clocked]) + '\\n')
    out.flush()
    time.sleep(0.02)
"""


TARGET_NICE = -10
TARGET_RT_PRIORITY = 10
"""How the target and the independent client are favoured where the bench may (root, CAP_SYS_NICE): real-time
round robin at this priority, else nice -10 (see the module's docstring). A real target runs on a machine of
its own, where golive's CPU-heavy checks cannot delay its answers; sharing two cores with them, the target
answered one request 40 ms late and the next on time, and two clients timing it a moment apart disagreed
about the target, not about golive. Both mostly sleep; the kernel's real-time throttling (95 %) bounds
them anyway."""


def _favoured() -> None:
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, TARGET_NICE)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(TARGET_RT_PRIORITY))


def _scheduling(pid: int) -> str:
    """How a process is scheduled, for the table's header."""
    with contextlib.suppress(OSError, AttributeError):
        if os.sched_getscheduler(pid) == os.SCHED_RR:
            return f"real-time round robin {os.sched_getparam(pid).sched_priority}"
    return f"nice {os.getpriority(os.PRIO_PROCESS, pid)}"


@contextlib.contextmanager
def process(code: str, *args: str, stdout: Any = subprocess.PIPE,
            favoured: bool = False) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=stdout, text=True,
                            preexec_fn=_favoured if favoured else None)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def big_database(rows: int) -> Iterator[str]:
    """A database with `rows` rows, so pg_dump has real work; dropped afterwards."""
    name = f"golive_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE TABLE leads AS SELECT g AS id, md5(g::text) AS domain, g % 100 AS score "
                                 "FROM generate_series(1, {}) g").format(sql.Literal(int(rows))))
        yield url
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def checklist_text(base_url: str, db_url: str, backups: str, busy_s: float) -> str:
    busy = f"import time; e = time.time() + {busy_s}; all(iter(lambda: time.time() < e, False))"
    alembic = f"{sys.executable} -m alembic"
    checks = [
        *(f"- {{id: http.d{d}, kind: http, params: {{url: /d{d}}}}}" for d in DELAYS_MS),
        *(f"- {{id: ceiling.d{d}, kind: http, params: {{url: /d{d}, max_latency_ms: 5000}}}}" for d in DELAYS_MS),
        f"- {{id: redis.ping, kind: redis.ping, params: {{url: '{REDIS_URL}'}}}}",
        f"- {{id: db.query, kind: postgres.query, params: {{url: '{PG_URL}'}}}}",
        f"- {{id: heavy.pg_dump, kind: backup.create, timeout: 300, params: {{url: '{db_url}', dir: '{backups}', "
        "format: plain, keep_newest: 1}}",
        f"- {{id: heavy.alembic_sql, kind: migration.dry_run, timeout: 120, params: {{command: '{alembic}', "
        f"cwd: '{ALEMBIC_DIR}'}}}}",
        f"- {{id: heavy.alembic_current, kind: migration.current, timeout: 120, params: {{command: '{alembic}', "
        f"cwd: '{ALEMBIC_DIR}', env: {{DATABASE_URL: '{db_url}'}}}}}}",
        *(f"- {{id: heavy.busy{i}, kind: command, timeout: 120, params: {{command: [{sys.executable!r}, '-c', "
          f"{json.dumps(busy)}]}}}}" for i in range(4)),
    ]
    return (f"name: bench\ntarget: {{base_url: '{base_url}'}}\nphases:\n  - id: all\n    checks:\n"
            + "\n".join("      " + c for c in checks) + "\n")


SCHEDULING: list[str] = []
MARGIN_S = 0.25  # the independent client's samples that started this close to golive's timing window count


def independent(records: list[list[Any]], key: str, since: float, until: float) -> dict[str, Any]:
    """The independent client's medians over the samples it started while golive was timing the same thing
    (`timed_at`..`timed_until`, widened by MARGIN_S): stamped (the kernel's), and by its own clock."""
    near = [(stamped, clocked) for ts, name, stamped, clocked in records
            if name == key and since - MARGIN_S <= ts <= until + MARGIN_S]
    stamped = [s for s, _ in near if s == s]  # NaN: a request the kernel did not stamp
    clocked = [c for _, c in near]
    return {"n": len(near), "clocked": statistics.median(clocked) if clocked else float("nan"),
            "stamped": statistics.median(stamped) if stamped else float("nan")}


async def one_run(base_url: str, db_url: str, busy_s: float) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as backups:
        checklist = parse_checklist(checklist_text(base_url, db_url, backups, busy_s), "bench.yml")
        report = await Runner(checklist, env={}).run(checklist.all_checks())
    rows = []
    for result in report.results:
        ev = result.evidence
        if "latency_ms" not in ev or result.check_id.startswith("heavy."):
            continue
        # every HTTP sample golive times has a fresh connection (one without a ceiling, three with one)
        key = {"redis.ping": "redis", "db.query": "sql"}.get(result.check_id,
                                                             f"http:/{result.check_id.split('.')[-1]}")
        rows.append({"check": result.check_id, "status": result.status.value, "reported": float(ev["latency_ms"]),
                     "timed": ev.get("latency_timed", ""), "at": float(ev.get("timed_at") or 0.0),
                     "until": float(ev.get("timed_until") or ev.get("timed_at") or 0.0),
                     "clock": "kernel" if str(ev.get("latency_clock", "")).startswith("the kernel") else "process",
                     "event_loop": ev.get("event_loop_ms"), "key": key})
    heavy = [r for r in report.results if r.check_id.startswith("heavy.")]
    # alembic current on an unmigrated database fails (pending revisions) after running alembic three times:
    # that is the load wanted; anything else must pass
    bad = [f"{r.check_id}: {r.summary}" for r in heavy
           if r.status.value != "pass" and not (r.check_id == "heavy.alembic_current" and r.status.value == "fail")]
    if bad:
        raise RuntimeError("a CPU-heavy check did not run: " + "; ".join(bad))
    return rows


async def measure(trials: int, busy_s: float, n_rows: int, dump: str = "") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with process(TARGET, favoured=True) as target, contextlib.ExitStack() as clients:
        assert target.stdout is not None
        port = target.stdout.readline().strip()
        SCHEDULING.append(_scheduling(target.pid))
        base_url = f"http://127.0.0.1:{port}"
        redis_port = REDIS_URL.rsplit(":", 1)[1].split("/")[0]
        with big_database(n_rows) as db_url:
            procs = [clients.enter_context(process(CLIENT, "http", "127.0.0.1", port, f"/d{d}", favoured=True))
                     for d in DELAYS_MS]
            procs.append(clients.enter_context(process(CLIENT, "redis", "127.0.0.1", redis_port, "-",
                                                       favoured=True)))
            procs.append(clients.enter_context(process(CLIENT, "sql", "127.0.0.1", "0", PG_URL, favoured=True)))
            SCHEDULING.append(_scheduling(procs[0].pid))
            records: list[list[Any]] = []
            readers = [threading.Thread(target=_collect, args=(proc, records), daemon=True) for proc in procs]
            for reader in readers:
                reader.start()
            await asyncio.sleep(0.5)
            for _ in range(trials):
                rows += await one_run(base_url, db_url, busy_s)
                await asyncio.sleep(MARGIN_S + 0.3)
    for row in rows:
        ind = independent(records, row["key"], row["at"], row["until"])
        truth = ind["stamped"]
        row.update(n=ind["n"], independent=truth, independent_clocked=ind["clocked"], bound=truth * 1.2 + 10)
        row["ok"] = ind["n"] > 0 and abs(row["reported"] - truth) <= 0.2 * truth + 10
    if dump:  # every sample of both sides, to look at what a miss had around it
        Path(dump).write_text(json.dumps({"rows": rows, "independent": records}))
    return rows


def _collect(client: subprocess.Popen[str], records: list[list[Any]]) -> None:
    """Collect an independent client's lines while it runs (a thread, so our loop stays free)."""
    assert client.stdout is not None
    for line in client.stdout:
        with contextlib.suppress(ValueError):
            records.append(json.loads(line))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = bool(os.environ.get("BENCH_QUICK"))
    parser.add_argument("--trials", type=int, default=1 if quick else 3)
    parser.add_argument("--busy", type=float, default=0.5 if quick else 4.0, help="seconds of each busy loop")
    parser.add_argument("--rows", type=int, default=20_000 if quick else 300_000, help="rows pg_dump dumps")
    parser.add_argument("--dump", default="", help="write every row and independent sample to this JSON file")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.trials, args.busy, args.rows, args.dump))
    print(f"latency under load: {args.trials} full run(s) beside pg_dump ({args.rows} rows), alembic x2 and "
          f"4 busy loops of {args.busy:g} s; target delays {', '.join(f'{d} ms' for d in DELAYS_MS)} "
          f"(target: {SCHEDULING[0] if SCHEDULING else '?'}; independent client: "
          f"{SCHEDULING[1] if len(SCHEDULING) > 1 else '?'}; golive: as started)")
    print("  reported: golive's number (clock: kernel stamps or the timing process's clock); independent: the "
          "independent client's stamped median over the same moment (n samples); its clock: that client's own "
          "clock, what curl would print; event loop: what golive's loop timed")
    print(f"  {'check':<14} {'reported':>9} {'clock':>8} {'independent':>12} {'bound':>8} {'n':>3} "
          f"{'its clock':>10} {'event loop':>11}  ok")
    for row in rows:
        loop = f"{row['event_loop']:.1f}" if isinstance(row["event_loop"], int | float) else "-"
        print(f"  {row['check']:<14} {row['reported']:>8.1f}  {row['clock']:>8} {row['independent']:>11.1f} "
              f"{row['bound']:>8.1f} {row['n']:>3} {row['independent_clocked']:>10.1f} {loop:>11}  "
              f"{'OK' if row['ok'] else 'MISS'}")
    misses = [r for r in rows if not r["ok"]]
    print(f"  within 20 % + 10 ms of the independent client: {len(rows) - len(misses)} of {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
