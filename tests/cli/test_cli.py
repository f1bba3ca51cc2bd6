"""`golive` as a person or CI runs it: real servers, exit codes 0 / 1 / 2. The README demo run and the secrets
test use a real process (what reaches its real stdout, stderr and store); the rest call `bot.cli.main` in-process
(tests/cli/inprocess.py), which proves the same without 1-2 s of start-up per call."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from checks.loader import bundled_checklist
from tests.cli.inprocess import golive_in_process, process_env
from tests.conftest import PG_URL, REDIS_URL

PG_WITH_PASSWORD = PG_URL.replace("postgres@", "postgres:Cli-Db-Secret-7@")
DSN = "https://feedfacefeedfacefeedfacefeedface@o7.ingest.sentry.io/77"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def golive(*args: str, env: dict[str, str] | None = None, cwd: Path,
           timeout: float = 120) -> subprocess.CompletedProcess:
    """A real `python -m bot.cli` process. `golive_in_process` is the same call without the process."""
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=process_env(cwd, env), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


PHASE = """name: cli-{tag}
phases:
  - id: day1
    checks:
      - {{id: db.connect, kind: postgres.query, criticality: critical, timeout: 5,
         params: {{url: '${{DATABASE_URL}}'}}}}
      - {{id: redis.ping, kind: redis.ping, criticality: critical, timeout: 2, params: {{url: '${{REDIS_URL}}'}}}}
      - {{id: env.sentry_dsn, kind: env, criticality: high, params: {{var: SENTRY_DSN, secret: true}}}}
"""


def write_checklist(tmp_path: Path, tag: str) -> Path:
    path = tmp_path / "checklist.yml"
    path.write_text(PHASE.format(tag=tag))
    return path


def test_the_readme_demo_run_shows_a_real_run_and_a_conditional_go(tmp_path: Path) -> None:
    proc = golive("run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "GO (conditional)" in proc.stdout
    assert "api.legacy" in proc.stdout and "decision is 'removed'" in proc.stdout
    assert "health.ready" in proc.stdout and "HTTP 200" in proc.stdout
    assert "demo-db-password" not in proc.stdout + proc.stderr


def test_day1_passes_against_the_local_servers_and_fails_fast_on_a_closed_redis(tmp_path: Path) -> None:
    checklist = write_checklist(tmp_path, "a")
    env = {"DATABASE_URL": PG_WITH_PASSWORD, "REDIS_URL": REDIS_URL, "SENTRY_DSN": DSN}
    ok = golive_in_process("run", "day1", "--checklist", str(checklist), "--json", env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    results = {r["check_id"]: r["status"] for r in json.loads(ok.stdout)["results"]}
    assert results == {"db.connect": "pass", "redis.ping": "pass", "env.sentry_dsn": "pass"}

    env["REDIS_URL"] = f"redis://:Cli-Redis-Secret-8@127.0.0.1:{closed_port()}/0"
    bad = golive_in_process("run", "day1", "--checklist", str(checklist), env=env, cwd=tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "NO-GO" in bad.stdout and "redis.ping" in bad.stdout
    assert "Cli-Redis-Secret-8" not in bad.stdout + bad.stderr


def test_the_hunter_checklist_day1_reaches_the_real_database_and_redis(tmp_path: Path) -> None:
    env = {"DATABASE_URL": PG_WITH_PASSWORD, "REDIS_URL": REDIS_URL}
    proc = golive_in_process("run", "day1", "--checklist", str(bundled_checklist("hunter")), "--json", env=env,
                             cwd=tmp_path)
    assert proc.returncode == 1  # ENVIRONMENT and the DSN are not set here: NO-GO is right
    results = {r["check_id"]: r for r in json.loads(proc.stdout)["results"]}
    assert results["db.connect"]["status"] == "pass"
    assert results["redis.ping"]["status"] == "pass"
    assert results["env.environment"]["summary"] == "ENVIRONMENT is not set"


def test_secrets_never_reach_output_json_or_store(tmp_path: Path) -> None:
    checklist = write_checklist(tmp_path, "secret")
    env = {"DATABASE_URL": PG_WITH_PASSWORD.rsplit("/", 1)[0] + "/no_such_db", "REDIS_URL": REDIS_URL,
           "SENTRY_DSN": DSN}
    text = golive("run", "day1", "--checklist", str(checklist), env=env, cwd=tmp_path)
    as_json = golive("run", "day1", "--checklist", str(checklist), "--json", env=env, cwd=tmp_path)
    status = golive("status", "--checklist", str(checklist), env=env, cwd=tmp_path)
    assert text.returncode == 1 and as_json.returncode == 1
    with sqlite3.connect(tmp_path / "state" / "golive.db") as db:
        rows = [r for t in ("runs", "results", "audit", "kv") for r in db.execute(f"SELECT * FROM {t}")]
    everything = text.stdout + text.stderr + as_json.stdout + as_json.stderr + status.stdout + repr(rows)
    assert "cannot connect" in everything
    for secret in ("Cli-Db-Secret-7", "feedfacefeedfacefeedfacefeedface"):
        assert secret not in everything


@pytest.mark.parametrize(("body", "key_path", "problem"), [
    ("name: x\nphases:\n  - id: p\n    checks:\n      - {id: a, kind: nope, params: {}}\n",
     "phases[0].checks[0].kind", "unknown check kind 'nope'"),
    ("name: x\nphases:\n  - id: p\n    checks:\n      - {id: a, kind: redis.ping, params: {}}\n",
     "phases[0].checks[0].params.url", "Field required"),
    ("name: x\nphases:\n  - id: p\n    checks: [\n", "line", "invalid YAML"),
])
def test_a_malformed_checklist_exits_2_naming_file_and_key(tmp_path: Path, body: str, key_path: str,
                                                           problem: str) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(body)
    proc = golive_in_process("run", "p", "--checklist", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert str(path) in proc.stderr and key_path in proc.stderr and problem in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_usage_exits_2_with_guidance(tmp_path: Path) -> None:
    proc = golive_in_process("run", "day9", cwd=tmp_path)
    assert proc.returncode == 2 and "neither a phase nor a check" in proc.stderr and "day1" in proc.stderr
    proc = golive_in_process("frobnicate", cwd=tmp_path)
    assert proc.returncode == 2 and "golive --help" in proc.stderr


def test_status_and_checks_and_history_read_the_store_and_checklist(tmp_path: Path) -> None:
    checklist = write_checklist(tmp_path, "status")
    env = {"DATABASE_URL": PG_URL, "REDIS_URL": REDIS_URL, "SENTRY_DSN": DSN}
    before = golive_in_process("status", "--checklist", str(checklist), env=env, cwd=tmp_path)
    assert before.returncode == 1 and "NO-GO" in before.stdout and "has not run" in before.stdout  # exits as it says
    golive_in_process("run", "day1", "--checklist", str(checklist), env=env, cwd=tmp_path)
    after = golive_in_process("status", "--checklist", str(checklist), "--json", env=env, cwd=tmp_path)
    data = json.loads(after.stdout)
    assert after.returncode == (1 if data["verdict"]["decision"] == "no_go" else 0)
    assert data["phases"][0]["counts"]["pass"] == 3
    assert "sign-off" in " ".join(data["verdict"]["conditions"])
    listing = golive_in_process("checks", "--checklist", str(checklist), cwd=tmp_path)
    assert "redis.ping" in listing.stdout and "postgres.query" in listing.stdout
    history = golive_in_process("history", "--checklist", str(checklist), cwd=tmp_path)
    assert "day1" in history.stdout and "finished" in history.stdout
