"""Shared helpers for the HTTP check tests: a live demo target and a one-check checklist runner.

Imported explicitly by the test modules (no conftest), so these tests own their fixtures.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from bot.demo import DemoServer, serve_target
from checks.loader import parse_checklist
from checks.result import CheckResult
from checks.runner import Runner
from checks.spec import Checklist


@pytest.fixture
def target() -> Iterator[DemoServer]:
    """A fresh demo target per test: its own port, cache, limiter and traffic counters."""
    with serve_target() as server:
        yield server


def checklist_for(base_url: str, checks_yaml: str, *, target_yaml: str = "") -> Checklist:
    """A checklist around the given `checks:` items, parsed the way a checklist file is."""
    text = (
        "name: http-test\n"
        "target:\n"
        f"  base_url: {base_url}\n"
        + textwrap.indent(textwrap.dedent(target_yaml).strip("\n"), "  ")
        + ("\n" if target_yaml.strip() else "")
        + "phases:\n"
        "  - id: smoke\n"
        "    checks:\n"
        + textwrap.indent(textwrap.dedent(checks_yaml).strip("\n"), "      ")
        + "\n"
    )
    return parse_checklist(text, "http-test.yml")


async def run_checks(base_url: str, checks_yaml: str, *, env: dict[str, str] | None = None,
                     target_yaml: str = "") -> list[CheckResult]:
    """Run every check of the YAML snippet through the real runner; results in checklist order."""
    checklist = checklist_for(base_url, checks_yaml, target_yaml=target_yaml)
    report = await Runner(checklist, env=env or {}).run(checklist.all_checks(), selector="smoke")
    return report.results


async def run_one(base_url: str, check_yaml: str, *, env: dict[str, str] | None = None,
                  target_yaml: str = "") -> CheckResult:
    results = await run_checks(base_url, check_yaml, env=env, target_yaml=target_yaml)
    assert len(results) == 1
    return results[0]


def closed_port_url() -> str:
    """A loopback URL nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
