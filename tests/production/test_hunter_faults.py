"""The bundled hunter.yml against a production-like target, healthy and then with each of ten faults
(issue 20): every fault is NO-GO (exit 1) for a real `golive run all` and for the narrow selector that names
it (the check's own id, or its phase), and the verdict names the cause, as the seeds' Go/No-Go analysis asks
(seed 002: the environment group, DATABASE_URL, REDIS_URL, the Sentry DSN and the feature flags are
CRITICAL, like migration and backup).

The target is real: a PostgreSQL cluster of its own with SSL (production's DATABASE_URL says
sslmode=require), migrated with the fixture Alembic project and holding rows; a Redis server of its own (the
Redis fault stops it; the shared one on 6379 is never touched); the demo service as the API; the flag file
the rollout plan reads; the demo's deploy and reset scripts. One world for the module (its set-up is the
expensive part), each fault applied and undone around its runs; `golive` runs in this process (the exit
code of `bot.cli.main`), as a separate process would prove nothing more here.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.demo import DemoServer, serve_target
from checks.loader import bundled_checklist
from tests.cli.inprocess import golive_in_process
from tests.conftest import ALEMBIC_PROJECT
from tests.production.servers import PostgresServer, RedisServer

ROOT = Path(__file__).resolve().parents[2]
HUNTER = str(bundled_checklist("hunter"))
PHASE_1 = "HUNTER_PARTNER_CENTER_ENABLED=false\nHUNTER_D365_ENABLED=false\nHUNTER_ENRICHMENT_ENABLED=false\n"


def ssl_postgres(root: Path) -> PostgresServer:
    """A cluster of its own whose server speaks TLS (self-signed), so sslmode=require connects."""
    pg = PostgresServer().init()
    crt, key = pg.data / "server.crt", pg.data / "server.key"
    subprocess.run(["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=vm",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True, timeout=60)
    if pg.user:
        owner = pwd.getpwnam(pg.user)
        for path in (crt, key):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    key.chmod(0o600)
    with (pg.data / "postgresql.conf").open("a") as conf:
        conf.write(f"\nssl = on\nssl_cert_file = '{crt}'\nssl_key_file = '{key}'\n")
    return pg.start()


@dataclass
class World:
    root: Path
    pg: PostgresServer
    redis: RedisServer
    demo: DemoServer
    env: dict[str, str] = field(default_factory=dict)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg.port}/hunter"

    def sql(self, statement: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def run(self, selector: str, **overrides: str | None) -> tuple[int, dict[str, Any]]:
        env = {k: v for k, v in {**self.env, **overrides}.items() if v is not None}
        done = golive_in_process("run", selector, "--checklist", HUNTER, "--json", env=env, cwd=self.root)
        assert done.stdout.strip(), done.stderr
        return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("hunter-world")
    pg = ssl_postgres(root)
    redis = RedisServer().start()
    try:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE hunter")
        url = f"postgresql://postgres@vm:{pg.port}/hunter?sslmode=require"  # not a local-looking host
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ALEMBIC_PROJECT, check=True,
                       env={**os.environ, "DATABASE_URL": url}, capture_output=True, timeout=120)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO companies (domain, tenant_size) SELECT 'c' || g || '.example', 'small' "
                         "FROM generate_series(1, 50) g")
            conn.execute("INSERT INTO domain_signals (domain, local_provider, dmarc_coverage) "
                         "SELECT 'c' || g || '.example', 'none', 1 FROM generate_series(1, 30) g")
        (root / "flags.env").write_text(PHASE_1)
        with serve_target() as demo:
            yield World(root=root, pg=pg, redis=redis, demo=demo, env={
                "ENVIRONMENT": "production", "DATABASE_URL": url, "REDIS_URL": redis.url, "LOG_LEVEL": "INFO",
                "HUNTER_SENTRY_DSN": "https://0123abcd@127.0.0.1:9/1", "API_BASE_URL": demo.base_url,
                "HUNTER_API_KEY": "demo-api-key", "HUNTER_ALEMBIC": f"{sys.executable} -m alembic",
                "HUNTER_ALEMBIC_DIR": str(ALEMBIC_PROJECT), "HUNTER_BACKUP_DIR": str(root / "backups"),
                "HUNTER_DEPLOY_SCRIPT": str(ROOT / "checklists" / "demo" / "deploy.sh"),
                "HUNTER_RESET_SCRIPT": str(ROOT / "checklists" / "demo" / "reset_db.sh"),
                "HUNTER_ENV_FILE": str(root / "flags.env"),
            })
    finally:
        redis.close()
        pg.close()


# -- the ten faults: each a context manager giving env overrides, undone on exit ---------------------------


@contextlib.contextmanager
def redis_down(w: World) -> Iterator[dict[str, str | None]]:
    """The service's Redis server stops (the world's own; the service then reports it down, as Hunter does)."""
    w.redis.stop()
    w.demo.set(mode="degraded", failing="redis")
    try:
        yield {}
    finally:
        w.demo.set(mode="healthy")
        w.redis.start()


@contextlib.contextmanager
def db_unreachable(w: World) -> Iterator[dict[str, str | None]]:
    """The service's PostgreSQL server stops (the world's own cluster, started again afterwards)."""
    w.pg.stop()
    w.demo.set(mode="degraded", failing="db")
    try:
        yield {}
    finally:
        w.demo.set(mode="healthy")
        w.pg.start()


@contextlib.contextmanager
def column_dropped(w: World) -> Iterator[dict[str, str | None]]:
    w.sql("ALTER TABLE domain_signals DROP COLUMN dmarc_coverage")
    try:
        yield {}
    finally:
        w.sql("ALTER TABLE domain_signals ADD COLUMN dmarc_coverage integer")


@contextlib.contextmanager
def migration_pending(w: World) -> Iterator[dict[str, str | None]]:
    w.sql("UPDATE alembic_version SET version_num = 'a1b2c3d4e5f6'")
    try:
        yield {}
    finally:
        w.sql("UPDATE alembic_version SET version_num = 'f6e5d4c3b2a1'")


@contextlib.contextmanager
def dump_truncated(w: World) -> Iterator[dict[str, str | None]]:
    """pg_dump's output cut short (a full disk, a killed dump): a real pg_dump whose file is then truncated."""
    bindir = w.root / "truncating-bin"
    bindir.mkdir(exist_ok=True)
    real = subprocess.run(["which", "pg_dump"], capture_output=True, text=True, check=True).stdout.strip()
    wrapper = bindir / "pg_dump"
    wrapper.write_text(f'#!/bin/sh\n"{real}" "$@" || exit $?\nfor a in "$@"; do [ -n "$next" ] && f="$a"; '
                       'next=""; [ "$a" = "--file" ] && next=1; done\n'
                       '[ -n "$f" ] && truncate -s 2000 "$f"\nexit 0\n')
    wrapper.chmod(0o755)
    yield {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}


@contextlib.contextmanager
def v1_answers_500(w: World) -> Iterator[dict[str, str | None]]:
    w.demo.set(mode="error_rate", error_fraction=1.0)
    try:
        yield {}
    finally:
        w.demo.set(mode="healthy")


@contextlib.contextmanager
def flags_off_plan(w: World) -> Iterator[dict[str, str | None]]:
    (w.root / "flags.env").write_text(PHASE_1.replace("HUNTER_D365_ENABLED=false", "HUNTER_D365_ENABLED=true"))
    try:
        yield {}
    finally:
        (w.root / "flags.env").write_text(PHASE_1)


@contextlib.contextmanager
def flag_source_missing(w: World) -> Iterator[dict[str, str | None]]:
    yield {"HUNTER_ENV_FILE": str(w.root / "no-such-flags.env")}


@contextlib.contextmanager
def sentry_dsn_missing(w: World) -> Iterator[dict[str, str | None]]:
    yield {"HUNTER_SENTRY_DSN": None}


@contextlib.contextmanager
def environment_wrong(w: World) -> Iterator[dict[str, str | None]]:
    """The service runs with ENVIRONMENT=staging: its settings say so, and so does its readiness answer."""
    w.demo.set(environment="staging")
    try:
        yield {"ENVIRONMENT": "staging"}
    finally:
        w.demo.set(environment="production")


Fault = Callable[[World], contextlib.AbstractContextManager[dict[str, str | None]]]


@dataclass(frozen=True)
class Case:
    fault: Fault
    selector: str  # the narrow selector: the check's own id, or its phase
    check: str  # the check whose NO-GO reason names the cause
    cause: tuple[str, ...]  # words of that reason that name the cause
    also: frozenset[str] = frozenset()  # other checks the same fault rightly fails in `run all`


CASES = [
    Case(redis_down, "redis.ping", "redis.ping", ("no PONG", "Error 111"), frozenset({"health.ready"})),
    Case(db_unreachable, "db.connect", "db.connect", ("cannot connect", "Connection refused"),
         frozenset({"health.ready", "migration.current"})),
    Case(column_dropped, "schema.columns", "schema.columns", ("missing", "domain_signals.dmarc_coverage")),
    Case(migration_pending, "migration.current", "migration.current", ("1 pending", "f6e5d4c3b2a1")),
    Case(dump_truncated, "backup.integrity", "backup.integrity", ("truncated or damaged",)),
    Case(v1_answers_500, "smoke.leads", "smoke.leads", ("HTTP 500",),
         frozenset({"smoke.scan", "smoke.cache", "smoke.sales_summary", "api.v1"})),  # every v1 route answers 500
    Case(flags_off_plan, "env.feature_flags", "env.feature_flags", ("HUNTER_D365_ENABLED is true (plan: false)",)),
    Case(flag_source_missing, "env.feature_flags", "env.feature_flags", ("no-such-flags.env not found",)),
    Case(sentry_dsn_missing, "env.sentry_dsn", "env.sentry_dsn", ("HUNTER_SENTRY_DSN is not set",)),
    Case(environment_wrong, "day1", "env.environment", ("expected production, got staging",),
         frozenset({"health.ready"})),
]


def reasons(run: dict[str, Any]) -> dict[str, str]:
    """The verdict's NO-GO reasons by check id ("check: summary")."""
    return dict(r.split(": ", 1) for r in run["verdict"]["reasons"] if ": " in r)


# Three groups, each built once on the worker that takes it: ten full runs on one worker were the suite's
# longest chain (about 280 s on a busy machine), while a world costs a few seconds to build.
WORLDS = 3


def world_group(index: int) -> pytest.MarkDecorator:
    return pytest.mark.xdist_group(f"hunter_faults_{index % WORLDS}")


@world_group(0)
def test_healthy_target_is_go_conditional_with_exit_0(world: World) -> None:
    """The baseline the faults flip: `run all` on the healthy target is GO (conditional), exit 0; only the
    Sentry test event (its DSN points at a closed port) and the missing OpenAPI document are short of a pass.
    hunter.yml's one writing check scans the synthetic lead and removes it: every real record of the service
    is byte-identical afterwards, and the verdict names the write and its cleanup."""
    records = world.demo.state.records_bytes()
    code, run = world.run("all")
    assert (code, run["verdict"]["decision"]) == (0, "go_conditional"), run["verdict"]
    assert world.demo.state.records_bytes() == records
    assert "smoke.scan: POST /api/v1/scan → 202; DELETE /api/v1/leads/golive-smoke.example → 204 (cleanup)" \
        in run["verdict"]["writes"], run["verdict"]["writes"]
    others = {r["check_id"]: r["summary"] for r in run["results"] if r["status"] not in ("pass", "n/a")}
    assert set(others) == {"sentry.test_event", "api.openapi"}, others


@pytest.mark.parametrize("case", [pytest.param(c, id=c.fault.__name__, marks=world_group(i + 1))
                                  for i, c in enumerate(CASES)])
def test_fault_is_no_go_for_run_all_and_for_its_narrow_selector(world: World, case: Case) -> None:
    """One fault, two real runs with it in place: `golive run all` and the narrow selector each exit 1, and
    the verdict's reason for the fault's check names the cause. `run all` has no other NO-GO reason than
    the fault's own, what the same fault rightly breaks beside it, and the checks skipped because they need
    a failed one: every earlier fault was undone."""
    with case.fault(world) as overrides:
        all_code, whole = world.run("all", **overrides)
        narrow_code, narrow = world.run(case.selector, **overrides)
    for selector, code, run in (("all", all_code, whole), (case.selector, narrow_code, narrow)):
        why = reasons(run)
        assert code == 1 and run["verdict"]["decision"] == "no_go", f"run {selector}: {run['verdict']}"
        assert case.check in why, f"run {selector}: {run['verdict']['reasons']}"
        assert all(word in why[case.check] for word in case.cause), f"run {selector}: {why[case.check]}"
    unexplained = {check: why for check, why in reasons(whole).items()
                   if check not in {case.check, *case.also} and not why.startswith("skipped: needs ")}
    assert not unexplained, whole["verdict"]["reasons"]
