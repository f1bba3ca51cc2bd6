"""The store under test, once per dialect: an embedded SQLite file and a PostgreSQL schema of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store, open_store
from tests.conftest import PG_URL


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = open_store(None, sqlite_path=tmp_path / "golive.db")
    else:
        s = open_store(PG_URL, schema=request.getfixturevalue("pg_schema"))
    yield s
    s.close()
