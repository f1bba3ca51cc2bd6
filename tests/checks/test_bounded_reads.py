"""Every read from the target is bounded (issue 18, item 3): an endless HTTP body, a program flooding its
output, a settings command or file that never ends. Each ends in an `error` that names the cap, the client
stops reading at the cap (the hostile server counts what it got out), and what is stored stays small.

No wall-clock asserts: the server-side byte count and the status (`error`, not a timeout) prove the
bound; bench/hostile_target.py reports the timings and the peak RSS of a real `golive run`.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.hostile_target import HostileTarget, gzip_bomb
from checks.bounded import MIB, CapExceeded, read_file_capped, request_capped
from checks.masking import masker
from checks.process import run_process
from checks.result import MAX_EVIDENCE_BYTES, CheckResult, Criticality, Status
from checks.runner import Runner
from checks.target_env import SettingsError
from tests.checks.http_fixtures import checklist_for, run_one
from tests.serving import IN_FLIGHT, hostile_target


@pytest.fixture
async def hostile() -> AsyncIterator[tuple[str, HostileTarget]]:
    async with hostile_target() as served:
        yield served


async def test_an_endless_http_body_ends_in_an_error_naming_the_cap_and_the_client_stops_reading(
        hostile: tuple[str, HostileTarget]) -> None:
    base_url, target = hostile
    result = await run_one(base_url, """
        - id: huge.body
          kind: http
          timeout: 20
          params: {url: /zeros}
    """)
    assert result.status is Status.ERROR, result.summary
    assert "1 MiB cap (max_body_bytes)" in result.summary and "GET" in result.summary
    assert result.evidence["cap_bytes"] == MIB
    await target.all_streams_done()
    # the check's GET, and maybe the timing process's copy of it (checks.timing) if it was sent before the
    # check ended: each stopped reading early
    assert 1 <= len(target.streams) <= 2
    for stream in target.streams:
        assert stream.size == 1024 ** 3 and stream.sent < IN_FLIGHT, f"the server got {stream.sent} bytes out"


async def test_a_declared_oversized_body_is_refused_before_it_is_read(hostile: tuple[str, HostileTarget]) -> None:
    base_url, target = hostile
    result = await run_one(base_url, """
        - id: declared
          kind: http
          params: {url: /zeros-declared, max_body_bytes: 4096}
    """)
    assert result.status is Status.ERROR
    assert "1 GiB announced" in result.summary and "4 KiB cap (max_body_bytes)" in result.summary
    await target.all_streams_done()
    assert target.streams[0].sent < IN_FLIGHT


async def test_max_body_bytes_is_per_check_and_a_body_within_it_is_judged(hostile: tuple[str, HostileTarget]) -> None:
    base_url, _ = hostile
    small, big = await _run(base_url, """
        - id: within
          kind: http
          params: {url: "/zeros?bytes=5000", max_body_bytes: 5000}
        - id: over
          kind: http
          params: {url: "/zeros?bytes=5001", max_body_bytes: 5000}
    """)
    assert small.status is Status.PASS, small.summary
    assert big.status is Status.ERROR and "max_body_bytes" in big.summary


async def test_every_http_kind_stops_at_the_cap(hostile: tuple[str, HostileTarget]) -> None:
    base_url, target = hostile
    results = await _run(base_url, """
        - id: api.v1
          kind: api.v1
          params: {urls: [/zeros], max_body_bytes: 65536}
        - id: api.legacy
          kind: api.legacy
          params: {decision: supported, legacy_url: /zeros, v1_url: /ok, max_body_bytes: 65536}
        - id: smoke.rate_limit
          kind: smoke.rate_limit
          params: {url: /zeros, burst: 2, concurrency: 1, max_body_bytes: 65536}
        - id: smoke.cache
          kind: smoke.cache
          params: {url: /zeros, attempts: 1, max_body_bytes: 65536}
        - id: openapi.document
          kind: openapi
          params: {url: /zeros, max_document_bytes: 65536}
    """)
    for result in results:
        assert result.status is Status.ERROR, (result.check_id, result.summary)
        assert "64 KiB cap" in result.summary, (result.check_id, result.summary)
    await target.all_streams_done()
    assert target.streams and all(s.sent < IN_FLIGHT for s in target.streams)


async def test_a_gzip_bomb_is_inflated_only_as_far_as_the_cap(hostile: tuple[str, HostileTarget]) -> None:
    base_url, _ = hostile
    gzip_bomb(32)  # built before measuring
    tracemalloc.start()
    try:
        async with httpx.AsyncClient() as client:
            with pytest.raises(CapExceeded) as caught:
                await request_capped(client, "GET", f"{base_url}/gzip-bomb?mib=32", limit=MIB, setting="max_body_bytes")
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "1 MiB cap (max_body_bytes)" in str(caught.value)
    # httpx inflates a network chunk whole: all 32 MiB at once for this body; bounded inflation holds about the cap
    assert peak < 16 * MIB, f"peak {peak / MIB:.0f} MiB while reading a 32 MiB gzip bomb"


async def test_a_compressed_body_within_the_cap_reads_as_before(hostile: tuple[str, HostileTarget]) -> None:
    base_url, _ = hostile
    async with httpx.AsyncClient() as client:
        response, body = await request_capped(client, "GET", f"{base_url}/gzip-bomb?mib=2", limit=2 * MIB,
                                              setting="max_body_bytes")
    assert response.headers["content-encoding"] == "gzip" and body == b"\0" * (2 * MIB)


async def test_a_command_flooding_its_output_is_killed_at_the_cap(tmp_path: Path) -> None:
    # `yes` never ends by itself: an `error` (not a timeout) means the cap killed it
    results = await _run("http://127.0.0.1:9", """
        - id: flood
          kind: command
          timeout: 20
          params: {command: "head -c 100000000 /dev/zero"}
        - id: forever
          kind: command
          timeout: 20
          params: {command: [sh, -c, "yes & yes >&2"], max_output_bytes: 100000}
    """)
    flood, forever = results
    assert flood.status is Status.ERROR and "1 MiB cap (max_output_bytes)" in flood.summary, flood.summary
    assert "killed it" in flood.summary and flood.summary.startswith("`head -c 100000000 /dev/zero`")
    assert forever.status is Status.ERROR and "97.7 KiB cap (max_output_bytes)" in forever.summary, forever.summary
    assert "timed out" not in forever.summary


async def test_every_program_golive_runs_is_capped_even_without_a_setting_for_it() -> None:
    # guard, migration and backup kinds run programs too; their cap has no setting, so none is suggested
    with pytest.raises(CapExceeded) as caught:
        await run_process(["sh", "-c", "yes"], max_output_bytes=4096)
    assert str(caught.value) == "the output of sh (stdout + stderr) exceeds the 4 KiB cap; golive killed it"
    done = await run_process(["sh", "-c", "printf 'a%.0s' $(seq 4096)"], max_output_bytes=4096)
    assert done.stdout == "a" * 4096  # exactly at the cap is fine


async def test_a_settings_command_reading_dev_zero_stops_at_the_cap(tmp_path: Path) -> None:
    checklist = checklist_for("http://127.0.0.1:9", """
        - {id: x, kind: http, params: {url: /}}
    """)
    checklist.settings.source = "command"
    checklist.settings.command = "cat /dev/zero"
    checklist.source_path = str(tmp_path / "checklist.yml")
    with pytest.raises(SettingsError) as caught:
        await Runner(checklist).env()
    assert "1 MiB cap (settings.max_bytes)" in str(caught.value) and "killed it" in str(caught.value)


@pytest.mark.parametrize("kind", ["device", "fifo", "big"])
async def test_a_settings_file_that_is_not_a_small_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    if kind == "device":
        path = Path("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "settings.env"
        os.mkfifo(path)  # nobody writes to it: opening it the ordinary way would block forever
    else:
        path = tmp_path / "settings.env"
        path.write_text("A=1\n" * 100)
    checklist = checklist_for("http://127.0.0.1:9", "- {id: x, kind: http, params: {url: /}}")
    checklist.settings.source, checklist.settings.path, checklist.settings.max_bytes = "dotenv", str(path), 200
    checklist.source_path = str(tmp_path / "checklist.yml")
    with pytest.raises(SettingsError) as caught:
        await Runner(checklist).env()
    expected = {"device": "is a device, not a regular file", "fifo": "is a FIFO, not a regular file",
                "big": "200 bytes cap (settings.max_bytes)"}[kind]
    assert expected in str(caught.value)


def test_a_small_settings_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.env"
    path.write_text("A=1\nB=two\n")
    assert read_file_capped(path, 10, what="settings file", setting="settings.max_bytes") == b"A=1\nB=two\n"
    with pytest.raises(CapExceeded):
        read_file_capped(path, 9, what="settings file", setting="settings.max_bytes")


# -- what is stored --------------------------------------------------------------------------------------


def _stored_size(result: CheckResult) -> int:
    return len(json.dumps(result.evidence, default=str).encode())


def test_oversized_evidence_is_cut_to_64_kib_saying_how_big_it_was() -> None:
    evidence: dict[str, Any] = {"status": 500, "output_tail": "x" * 300_000, "rows": [{"n": i} for i in range(20_000)]}
    result = CheckResult(check_id="c", kind="command", criticality=Criticality.HIGH, status=Status.FAIL,
                         summary="s" * 50_000, evidence=evidence)
    assert _stored_size(result) <= MAX_EVIDENCE_BYTES
    original = len(json.dumps(evidence).encode())
    assert result.evidence["evidence_truncated"] == f"… truncated ({original} bytes)"
    assert result.evidence["status"] == 500  # small values survive as they were
    assert "… truncated (300000 bytes)" in result.evidence["output_tail"]
    assert result.summary.endswith("… truncated (50000 bytes)") and len(result.summary) < 4100
    json.loads(result.model_dump_json())  # still valid JSON


def test_small_evidence_is_left_alone() -> None:
    evidence = {"status": 200, "latency_ms": 12.5, "rows": [1, 2, 3]}
    result = CheckResult(check_id="c", kind="http", criticality=Criticality.HIGH, status=Status.PASS, summary="ok",
                         evidence=evidence)
    assert result.evidence == evidence


async def test_a_secret_in_a_huge_output_is_masked_before_the_evidence_is_cut() -> None:
    secret = "Sup3r-Secret-Token-98765"
    masker.add(secret)
    [result] = await _run("http://127.0.0.1:9", f"""
        - id: noisy
          kind: command
          params: {{command: [python3, -c, "print('{secret} ' + 'y' * 150000); raise SystemExit(3)"]}}
    """)
    assert result.status is Status.FAIL
    stored = json.dumps(result.evidence)
    assert secret not in stored and secret not in result.summary
    assert len(stored.encode()) <= MAX_EVIDENCE_BYTES and "truncated" in stored


async def _run(base_url: str, checks_yaml: str) -> list[CheckResult]:
    from tests.checks.http_fixtures import run_checks

    return await run_checks(base_url, checks_yaml)
