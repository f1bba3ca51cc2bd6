"""Fixtures for the rollout tests: a PostgreSQL store in a schema of the test's own, Redis under a key
prefix of the test's own, the demo target over real HTTP, and a small checklist written to disk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.coordination.locks import RedisLocks
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.rollout.fixtures import store, target  # noqa: F401  (fixtures)

ENV_FILE = (
    "# Shop production settings\n"
    "ENVIRONMENT=production\n"
    "export LOG_LEVEL=INFO   # never DEBUG\n"
    "\n"
    "# feature flags: the rollout owns these lines\n"
    'APP_PC_ENABLED="false"     # Partner Center\n'
    "DATABASE_URL=postgresql://shop:S3cret-pw@db.internal/shop?sslmode=require\n"
    "APP_D365_ENABLED=false\n"
    "   \n"
    "TRAILING_NO_NEWLINE=1"
)


def checklist_data(base_url: str, *, watch: dict[str, Any] | None = None, **phase_overrides: Any) -> dict[str, Any]:
    phases = [
        {"id": "phase-1", "title": "core only", "flags": {"APP_PC_ENABLED": False, "APP_D365_ENABLED": False},
         "requires_checks": ["health.ready"]},
        {"id": "phase-2", "title": "Partner Center on", "flags": {"APP_PC_ENABLED": True, "APP_D365_ENABLED": False},
         "requires_checks": ["health.ready"]},
        {"id": "phase-3", "title": "D365 on", "flags": {"APP_PC_ENABLED": True, "APP_D365_ENABLED": True,
                                                        "APP_ENRICH_ENABLED": False},
         "requires_checks": ["health.ready"]},
    ]
    for phase in phases:
        phase.update(phase_overrides)
    return {
        "name": "shop",
        "target": {"base_url": base_url},
        "phases": [{"id": "day3", "checks": [
            {"id": "health.ready", "kind": "http", "criticality": "critical", "timeout": 5,
             "params": {"url": "/healthz/ready", "expect_status": [200]}},
            {"id": "env.flags", "kind": "flags", "criticality": "high"},
        ]}],
        "signoffs": {"pre": {"title": "Before", "roles": [{"id": "tech_lead", "title": "Tech Lead",
                                                            "members": ["U0TECH"]},
                                                           {"id": "devops_lead", "title": "DevOps Lead"}]}},
        "rollout": {"provider": {"kind": "dotenv", "path": "target.env"}, "phases": phases,
                    "watch": {"interval_seconds": 0.15, "timeout_seconds": 2, "escalate_after_seconds": 60,
                              **(watch or {})}},
    }


@pytest.fixture
def write_checklist(tmp_path: Path) -> Callable[..., Checklist]:
    """Writes the checklist (and the target's dotenv file next to it) and loads it like the CLI does."""

    def write(base_url: str, **kwargs: Any) -> Checklist:
        path = tmp_path / "shop.yml"
        path.write_text(yaml.safe_dump(checklist_data(base_url, **kwargs), sort_keys=False))
        env = tmp_path / "target.env"
        if not env.exists():
            env.write_bytes(ENV_FILE.encode())
        return load_checklist(path)

    return write


@pytest.fixture
async def locks(redis_locks: RedisLocks) -> RedisLocks:
    return redis_locks


class Traffic:
    """Steady API requests, so the target's traffic-derived metrics (error rate, p95) move."""

    def __init__(self, base_url: str, concurrency: int = 3) -> None:
        self.base_url = base_url
        self.concurrency = concurrency
        self.tasks: list[asyncio.Task[None]] = []

    async def _loop(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as client:
            while True:
                try:
                    await client.get("/api/v1/leads?limit=5")
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)

    async def __aenter__(self) -> Traffic:
        self.tasks = [asyncio.create_task(self._loop()) for _ in range(self.concurrency)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def until(condition: Callable[[], Any], timeout: float = 10.0, step: float = 0.02) -> float:
    """Wait until `condition()` is truthy; returns the seconds it took (fails the test on timeout)."""
    started = time.monotonic()
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)


@pytest.fixture(scope="session")
def unleash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real Unleash server for the session (tests/rollout/unleash_support.py); tests that use it carry
    @pytest.mark.xdist_group("unleash") so that one worker runs them all against it."""
    from tests.rollout.unleash_support import unleash_server

    with unleash_server(tmp_path_factory.mktemp("unleash") / "unleash.log") as server:
        yield server
