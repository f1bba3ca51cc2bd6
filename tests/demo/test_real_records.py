"""The demo service has real records and a scan endpoint that changes them (as Hunter's does: a rescan
resets a lead's score). A full run of the bundled demo checklist leaves every real record byte-identical:
its only writing check scans a synthetic lead and removes it (issue 20)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot import cli
from bot.demo import DemoServer, serve_target


@pytest.fixture
def shared_demo(monkeypatch: pytest.MonkeyPatch, isolated_env: None) -> Iterator[DemoServer]:
    """The demo service `golive run` uses, kept so the test can read its records before and after."""
    with serve_target(legacy="supported") as server:

        @contextlib.contextmanager
        def shared(**settings: Any) -> Iterator[DemoServer]:
            server.set(**settings)
            yield server

        monkeypatch.setattr("bot.demo.server.serve_target", shared)
        yield server


def test_a_scan_of_a_real_lead_changes_it(demo: DemoServer, client: httpx.Client) -> None:
    """The defect the bundled checklists must avoid, shown on the demo service: scanning example.com
    resets the real lead's score, and the byte comparison the next test relies on sees it."""
    before = demo.state.records_bytes()
    assert demo.state.lead("example.com")["score"] == 90  # type: ignore[index]
    answer = client.post("/api/v1/scan", json={"domain": "example.com"}, headers={"X-API-Key": "demo-api-key"})
    assert answer.status_code == 202
    assert demo.state.lead("example.com")["score"] == 0  # type: ignore[index]
    assert demo.state.records_bytes() != before


def test_a_full_demo_run_leaves_every_real_record_byte_identical(
        shared_demo: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    before = shared_demo.state.records_bytes()
    listing_before = httpx.get(shared_demo.url("/api/v1/leads?limit=100"), headers={"X-Golive-Run": "t"}).content
    code = cli.main(["run", "all", "--json"])
    run = json.loads(capsys.readouterr().out)
    results = {r["check_id"]: r for r in run["results"]}
    assert code == 0, {k: r["summary"] for k, r in results.items() if r["status"] != "pass"}
    scan = results["smoke.scan"]
    assert scan["status"] == "pass", scan["summary"]
    assert scan["evidence"]["changed"] == ["POST /api/v1/scan → 202",
                                           "DELETE /api/v1/leads/golive-smoke.example → 204 (cleanup)"]
    assert any(w.startswith("smoke.scan: POST /api/v1/scan → 202") for w in run["verdict"]["writes"])
    assert shared_demo.state.records_bytes() == before
    listing_after = httpx.get(shared_demo.url("/api/v1/leads?limit=100"), headers={"X-Golive-Run": "t2"}).content
    assert listing_after == listing_before
    assert shared_demo.state.lead("golive-smoke.example") is None  # the synthetic lead is gone again
