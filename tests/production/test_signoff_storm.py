"""100 concurrent clicks on one sign-off button, through the real HTTP endpoint of `golive serve
--http`: exactly one sign-off and one approval in the audit log, on PostgreSQL and on SQLite."""

from __future__ import annotations

import pytest

from bench.harness import running_bot
from bench.signoff_storm import storm
from tests.production.servers import PostgresServer
from tests.production.test_store_outage import fresh_database


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
async def test_hundred_clicks_record_one_signoff(backend: str, pg_server: PostgresServer) -> None:
    database_url = fresh_database(pg_server) if backend == "postgres" else None
    with running_bot(database_url=database_url) as (bot, stub):
        figures = await storm(bot, stub, clicks=100)
    assert figures["http_200"] == 100
    assert figures["signoffs"] == 1, figures
    assert figures["approvals_audited"] == 1, figures
    assert figures["audit_entries"] == 2, figures  # the request and the one approval, nothing else
    assert figures["card_updates"] + figures["notices"] >= 100, figures  # every clicker got an answer
