"""Fixtures for the Day 2 check tests: databases of their own on the real PostgreSQL server.

Other tests run concurrently on the same server, so every test gets uniquely named databases and roles
and drops them afterwards. All fixtures here are prefixed `pg_` and depend on nothing outside this file.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from checks.registry import CheckContext, get_kind
from checks.result import CheckResult, Outcome
from checks.runner import execute
from checks.spec import Checklist, CheckSpec, PhaseSpec
from tests.conftest import background_dropper

PG_SERVER_URL = os.environ.get("GOLIVE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_url(dbname: str, user: str | None = None, password: str | None = None, scheme: str = "postgresql") -> str:
    """A URL for `dbname` on the test server, optionally as another user with a password."""
    parts = urlsplit(PG_SERVER_URL)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{host}:{parts.port or 5432}"
    login = user or parts.username or "postgres"
    userinfo = quote(login, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit((scheme, f"{userinfo}@{netloc}", "/" + dbname, "", ""))


def pg_admin_connect(dbname: str = "postgres") -> psycopg.Connection[Any]:
    return psycopg.connect(pg_url(dbname), autocommit=True)


def pg_drop_database(name: str) -> None:
    with pg_admin_connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pg_database_exists(name: str) -> bool:
    with pg_admin_connect() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def pg_databases_like(prefix: str) -> list[str]:
    with pg_admin_connect() as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def pg_database() -> Iterator[str]:
    """An empty database of this test's own (`golive_t_<hex>`), dropped afterwards."""
    name = f"golive_t_{secrets.token_hex(6)}"
    with pg_admin_connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        background_dropper().drop_database(name)  # teardown does not wait for the drop's checkpoint


SEED_COMPANIES = 37
SEED_SIGNALS = 53


@pytest.fixture
def pg_seeded_database(pg_database: str) -> str:
    """A database with rows: companies (37), domain_signals (53) and an empty table."""
    with psycopg.connect(pg_url(pg_database), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE companies (id serial PRIMARY KEY, domain text NOT NULL UNIQUE, tenant_size text);"
            "CREATE TABLE domain_signals (id serial PRIMARY KEY, domain text NOT NULL, local_provider text,"
            " dmarc_coverage int);"
            "CREATE TABLE empty_audit (id int);"
        )
        conn.execute(
            "INSERT INTO companies (domain, tenant_size) "
            "SELECT 'c' || g || '.example', (ARRAY['small','medium','large'])[1 + g %% 3] "
            "FROM generate_series(1, %s) g",
            (SEED_COMPANIES,),
        )
        conn.execute(
            "INSERT INTO domain_signals (domain, local_provider, dmarc_coverage) "
            "SELECT 'c' || g || '.example', 'M365', g %% 100 FROM generate_series(1, %s) g",
            (SEED_SIGNALS,),
        )
    return pg_database


@dataclass(frozen=True)
class PgRole:
    name: str
    password: str

    def url(self, dbname: str, scheme: str = "postgresql") -> str:
        return pg_url(dbname, self.name, self.password, scheme)


@pytest.fixture
def pg_password_role() -> Iterator[PgRole]:
    """A login role with a distinctive password (trust auth accepts it; it must never be shown anywhere).

    It may read every table and create databases, which is what backup and restore tests need.
    """
    role = PgRole(name=f"golive_r_{secrets.token_hex(5)}", password=f"Zq9-Kumquat-{secrets.token_hex(6)}-Pw")
    with pg_admin_connect() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                sql.Identifier(role.name), sql.Literal(role.password)
            )
        )
        conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(role.name)))
    try:
        yield role
    finally:
        with pg_admin_connect() as conn:
            owned = conn.execute(
                "SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = %s",
                (role.name,),
            ).fetchall()
        for (name,) in owned:
            background_dropper().drop_database(name)
        background_dropper().drop_role(role.name)  # after its databases: the dropper keeps the order


@dataclass
class PgCheckHarness:
    """Runs one check kind the way the runner does, sharing outputs between calls like a real run."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _ctx(self, spec: CheckSpec) -> CheckContext:
        checklist = Checklist(name="day2-test", phases=[PhaseSpec(id="day2", checks=[spec])])
        return CheckContext(checklist=checklist, env=self.env, check=spec, workdir=self.workdir,
                            outputs=self.outputs)

    async def outcome(self, kind: str, params: dict[str, Any], *, check_id: str | None = None,
                      timeout: float = 120.0) -> Outcome:
        """The kind's raw Outcome, before the runner masks anything: what the module itself produced."""
        spec = CheckSpec(id=check_id or kind, kind=kind, timeout=timeout, params=params)
        found = get_kind(kind)
        assert found is not None, kind
        async with asyncio.timeout(timeout):
            outcome = await found.run(self._ctx(spec), found.params.model_validate(params))
        if outcome.outputs:
            self.outputs[spec.id] = outcome.outputs
        return outcome

    async def result(self, kind: str, params: dict[str, Any], *, check_id: str | None = None,
                     timeout: float = 120.0) -> CheckResult:
        """The CheckResult through `runner.execute` (interpolation, timeout, masking)."""
        spec = CheckSpec(id=check_id or kind, kind=kind, timeout=timeout, params=params)
        return await execute(spec, self._ctx(spec))


@pytest.fixture
def pg_checks(tmp_path: Path) -> PgCheckHarness:
    """A check harness whose workdir (where backups/ goes) is this test's tmp_path."""
    return PgCheckHarness(workdir=tmp_path)


def pg_text_of(item: Outcome | CheckResult) -> str:
    """Everything a person could see of a check: summary, evidence and outputs."""
    parts = [item.model_dump_json()]
    if isinstance(item, Outcome):
        parts.append(repr(item.outputs))
    return "\n".join(parts)
