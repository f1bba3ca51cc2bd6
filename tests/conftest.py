"""Fixtures every test area shares: the real PostgreSQL and Redis servers, isolated per test."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PG_URL = os.environ.get("GOLIVE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GOLIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ALEMBIC_PROJECT = Path(__file__).resolve().parent / "fixtures" / "alembic_project"
TEST_AUDIT_KEY = "golive-test-audit-key-0123456789abcdef"
os.environ.setdefault("GOLIVE_AUDIT_KEY", TEST_AUDIT_KEY)
"""Stores the tests open sign the audit chain with this key; tests with `isolated_env` (or the in-process
CLI) have no key set, so golive generates one in their own state dir, as a fresh install does."""


def database_url(dbname: str) -> str:
    """PG_URL pointing at another database on the same server."""
    return PG_URL.rsplit("/", 1)[0] + f"/{dbname}"


class BackgroundDropper:
    """Drops test databases and roles on a thread of its own, in the order asked, so teardown does not wait.

    On PostgreSQL 15 every DROP DATABASE forces an immediate checkpoint: a few ms on a quiet server, seconds
    while other tests write. Nothing a test asserts depends on its own database being gone after it (the
    names are unique), so the drops run while the next tests do; `close()` at the end of the session waits
    for all of them and reports any that failed.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[sql.Composable | None] = queue.Queue()
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._work, name="golive-test-dropper", daemon=True)
        self._thread.start()

    def drop_database(self, name: str) -> None:
        self._queue.put(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def drop_role(self, name: str) -> None:
        """Dropped after every database queued before it (the role may own them)."""
        self._queue.put(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))

    def _work(self) -> None:
        while (statement := self._queue.get()) is not None:
            try:
                with psycopg.connect(PG_URL, autocommit=True) as conn:
                    conn.execute(statement)
            except psycopg.Error as exc:
                self.failures.append(f"{statement.as_string(None)}: {exc}")

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=300)


_dropper: BackgroundDropper | None = None


def background_dropper() -> BackgroundDropper:
    """This process's dropper (one per xdist worker), started on first use and closed at session end."""
    global _dropper
    if _dropper is None:
        _dropper = BackgroundDropper()
    return _dropper


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _dropper
    if _dropper is not None:
        _dropper.close()
        failures, _dropper = _dropper.failures, None
        if failures:
            print("\ncould not drop test databases/roles:\n  " + "\n  ".join(failures), file=sys.stderr)


class MigratedTemplates:
    """Template databases of the fixture Alembic project, each migrated once per test session (per xdist worker).

    Migrating a database means a `python -m alembic` process (1-3 s of imports under load); cloning a
    migrated template with `CREATE DATABASE ... TEMPLATE` takes milliseconds and gives the same tables
    and `alembic_version` row. Tests that need a database at some revision as their starting point clone
    it; tests of the migration checks themselves still run alembic for real.
    """

    def __init__(self) -> None:
        self._tag = uuid.uuid4().hex[:8]
        self._templates: dict[str, str] = {}

    def template(self, revision: str) -> str:
        if revision not in self._templates:
            name = f"golive_tpl_{self._tag}_{len(self._templates)}"
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            self._templates[revision] = name  # registered first, so close() drops it even if alembic fails
            subprocess.run([sys.executable, "-m", "alembic", "upgrade", revision], cwd=ALEMBIC_PROJECT, check=True,
                           env={**os.environ, "DATABASE_URL": database_url(name)}, capture_output=True, timeout=120)
        return self._templates[revision]

    def clone(self, name: str, revision: str) -> None:
        """Create database `name` as a copy of the template at `revision` (alembic `upgrade <revision>` done)."""
        template = self.template(revision)
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                          sql.Identifier(template)))

    def close(self) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for name in self._templates.values():
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self._templates.clear()


@pytest.fixture(scope="session")
def migrated_templates() -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates()
    yield templates
    templates.close()


@pytest.fixture
def migrated_database(migrated_templates: MigratedTemplates) -> Iterator[Callable[[str], str]]:
    """`migrated_database(revision)` -> the name of a new database of this test's own, already migrated to
    `revision` ("head" or a revision id) with the fixture Alembic project; dropped afterwards."""
    made: list[str] = []

    def make(revision: str = "head") -> str:
        name = f"golive_t_{uuid.uuid4().hex[:12]}"
        migrated_templates.clone(name, revision)
        made.append(name)
        return name

    yield make
    for name in made:
        background_dropper().drop_database(name)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A PostgreSQL schema of this test's own, dropped afterwards."""
    name = f"golive_t_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')  # type: ignore[arg-type]


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"golive:test:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def redis_locks(redis_prefix: str):  # type: ignore[no-untyped-def]  # an async generator fixture
    """Locks in the shared Redis under this test's own prefix (bot.coordination.locks.RedisLocks)."""
    from bot.coordination.locks import RedisLocks, redis_client

    client = redis_client(REDIS_URL)
    yield RedisLocks(client, redis_prefix)
    await client.aclose()


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    """Settings from a clean slate: no GOLIVE_/SLACK_ variables leak in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(("GOLIVE_", "SLACK_", "TEAMS_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOLIVE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    from bot.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# --------------------------------------------------------------------------- no global Sentry client leaks
@pytest.fixture(autouse=True)
def _sentry_global_client_restored() -> Iterator[None]:
    """A test that installs a global Sentry client (even `sentry_sdk.init(dsn=None)` installs one) must not
    leave it to the next test in the same process: with xdist and slowest-first ordering, any test may follow
    any other, and the sentry check asserts it never installs or replaces the bot's own client."""
    sdk = sys.modules.get("sentry_sdk")
    before = sdk.get_global_scope().client if sdk is not None else None
    yield
    sdk = sys.modules.get("sentry_sdk")
    if sdk is not None and sdk.get_global_scope().client is not before:
        sdk.get_global_scope().set_client(before)  # None: the non-recording client a fresh process has


# --------------------------------------------------------------------------- bytecode for the processes tests start
# The suite starts hundreds of Python processes (the golive CLI, `golive serve`, the timing worker, bench
# smoke runs). With PYTHONDONTWRITEBYTECODE set (as in the Dockerfile, and in many dev shells) none of them
# may write golive's bytecode, so each one compiled golive's own ~25k lines again: a few tenths of a CPU
# second per process. The session compiles them once, into the __pycache__ folders an ordinary run writes
# (.gitignore'd, checked against each source's mtime, so an edit is never run stale); the variable keeps
# its meaning for everything else. Without the variable Python writes them on first import anyway.
BYTECODE_DIRS = ("checks", "bot", "bench", "tests")


def compile_golive_bytecode() -> None:
    if not sys.flags.dont_write_bytecode and not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return
    import compileall

    root = Path(__file__).resolve().parents[1]
    for name in BYTECODE_DIRS:
        try:
            compileall.compile_dir(root / name, quiet=2, workers=1)
        except OSError:  # a read-only checkout: the processes compile in memory, as before
            return


# --------------------------------------------------------------------------- xdist workers see the same terminal
# An xdist worker process starts with COLUMNS/LINES set to 80x24 although the pytest command had neither, so
# everything sized by shutil.get_terminal_size (the terminal renderer's tables) would wrap differently than in a
# serial run. The controller hands its own values over and the worker restores exactly those.
_TERMINAL_VARS = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # type: ignore[no-untyped-def]  (xdist hook, controller side)
    node.workerinput["golive_terminal_env"] = {name: os.environ.get(name) for name in _TERMINAL_VARS}


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        compile_golive_bytecode()
    terminal_env = getattr(config, "workerinput", {}).get("golive_terminal_env")
    for name, value in (terminal_env or {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# --------------------------------------------------------------------------- slowest tests first
# With xdist the wall time is the busiest worker's: a 60 s test that starts last ends the run 60 s late.
# So the longest tests start first (longest-processing-time-first scheduling), by their durations in the
# previous run (kept in pytest's cache, .pytest_cache/v/golive/durations). Without a cache (a fresh clone),
# tests/production, which holds the outage and process tests, goes first. The order of the tests within
# an equal key stays the collection order; no test here depends on another having run before it.
DURATIONS_KEY = "golive/durations"
SLOW_FIRST_WITHOUT_CACHE = ("tests/production/",)
UNKNOWN_S = 1.0  # a test the cache has not timed yet goes ahead of the many fast ones
_durations: dict[str, float] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cache = getattr(config, "cache", None)
    known: dict[str, float] = (cache.get(DURATIONS_KEY, {}) if cache is not None else {}) or {}
    if known:
        items.sort(key=lambda item: -known.get(item.nodeid, UNKNOWN_S))
    else:
        items.sort(key=lambda item: not item.nodeid.startswith(SLOW_FIRST_WITHOUT_CACHE))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Setup + call + teardown of every test (on the xdist controller, reports arrive from all workers)."""
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_unconfigure(config: pytest.Config) -> None:
    cache = getattr(config, "cache", None)
    if cache is None or hasattr(config, "workerinput") or not _durations:
        return  # workers leave it to the controller, which saw every report
    known = cache.get(DURATIONS_KEY, {}) or {}
    known.update({nodeid: round(seconds, 3) for nodeid, seconds in _durations.items()})
    cache.set(DURATIONS_KEY, known)
