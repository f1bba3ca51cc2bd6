"""`golive audit verify` over a long audit log: wall time and peak memory of the process, which must
stay bounded (rows are streamed, a page at a time) whatever the length of the log.

Run: python -m bench.audit_verify [--rows N] [--postgres URL]
Target: peak RSS < 100 MB for 1,000,000 rows (SQLite; PostgreSQL with --postgres).
The log is built directly (one INSERT batch per 20,000 rows, each row a real keyed HMAC), then one fresh
`golive audit verify` process walks it; its exit code must be 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from bench.own_peak import OWN_PEAK
from bot.store import open_store
from bot.store.audit import GENESIS, row_mac
from bot.store.auditkey import load_keys

TARGET_MB = 100.0
KEY = "bench-audit-key-" + "0" * 32
BATCH = 20_000


def build(store: object, rows: int) -> None:
    keys = load_keys(env_key=KEY, key_file=None, state_dir="/nonexistent")
    db = store.db  # type: ignore[attr-defined]
    prev = GENESIS
    batch: list[dict[str, str]] = []
    for i in range(rows):
        row = {"at": f"2026-12-07T00:00:{i % 60:02d}.{i:06d}+00:00"[:32], "actor": f"U{i % 50:04d}",
               "action": "rollout.promoted" if i % 7 else "waiver.granted", "subject": f"shop:phase-{i % 5}",
               "detail": json.dumps({"i": i, "reason": "benchmark row with a little text in it"})}
        mac = row_mac(keys.current, keys.current_id, prev, row)
        batch.append({**row, "prev_hash": prev, "hash": mac, "key_id": keys.current_id})
        prev = mac
        if len(batch) == BATCH or i == rows - 1:
            with db.transaction() as tx:
                if tx.dialect == "sqlite":
                    tx._conn.executemany(  # the fastest honest way to write a million rows
                        "INSERT INTO audit (at, actor, action, subject, detail, prev_hash, hash, key_id) VALUES "
                        "(:at, :actor, :action, :subject, :detail, :prev_hash, :hash, :key_id)", batch)
                else:
                    for item in batch:
                        tx.execute("INSERT INTO audit (at, actor, action, subject, detail, prev_hash, hash, key_id) "
                                   "VALUES (:at, :actor, :action, :subject, :detail, :prev_hash, :hash, :key_id)",
                                   item)
            batch = []


def verify(env: dict[str, str], cwd: str) -> tuple[int, float, float, str]:
    """(exit code, wall seconds, the process's own peak RSS in MB, its output). The peak is the child's VmHWM
    read at its exit (bench.own_peak), not wait4's ru_maxrss: that keeps the pre-exec address space, i.e.
    this benchmark's, which has just built a million rows (it read 118 MB for a verify of about 40)."""
    peak_file = os.path.join(cwd, "verify-peak-kb")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", OWN_PEAK, peak_file, "audit", "verify"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read().decode() if proc.stdout else ""  # small: a few lines
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, _ = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    with open(peak_file) as kb:
        peak = int(kb.read()) / 1024
    os.unlink(peak_file)
    return proc.returncode, wall, peak, (out + err).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000 if os.environ.get("BENCH_QUICK") else 1_000_000)
    parser.add_argument("--postgres", help="also measure against this PostgreSQL URL (a schema of its own)")
    args = parser.parse_args(argv)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    workdir = tempfile.mkdtemp(prefix="golive-bench-audit-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_", "TEAMS_"))}
    env.update(GOLIVE_STATE_DIR=os.path.join(workdir, "state"), PYTHONPATH=repo, GOLIVE_AUDIT_KEY=KEY)
    missed = False
    targets = [("sqlite", None)] + ([("postgres", args.postgres)] if args.postgres else [])
    try:
        for name, url in targets:
            schema = f"bench_audit_{uuid.uuid4().hex[:8]}" if url else None
            keys = load_keys(env_key=KEY, key_file=None, state_dir="/nonexistent")
            store = open_store(url, sqlite_path=os.path.join(workdir, "state", "golive.db"), schema=schema,
                               audit_keys=keys)
            started = time.perf_counter()
            build(store, args.rows)
            built = time.perf_counter() - started
            store.close()
            run_env = dict(env)
            if url:
                run_env.update(GOLIVE_DATABASE_URL=f"{url}?options=-csearch_path%3D{schema}")
            code, wall, peak, said = verify(run_env, workdir)
            ok = code == 0 and peak < TARGET_MB
            missed |= not ok
            print(f"{name:<8} {args.rows:>9,} rows  built {built:6.1f} s   verify exit {code}  wall {wall:6.1f} s  "
                  f"peak RSS {peak:6.1f} MB  target < {TARGET_MB:.0f} MB  {'ok' if ok else 'MISS'}")
            print("   " + said.replace("\n", "\n   "))
            if url:
                import psycopg

                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if missed and not os.environ.get("BENCH_QUICK") else 0


if __name__ == "__main__":
    raise SystemExit(main())
