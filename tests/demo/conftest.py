"""Fixtures for the demo target's own tests: a fresh server per test and a client bound to it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.demo import DemoServer, serve_target


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    """A fresh target per test, so modes, cache, limiter and counters never leak between tests."""
    with serve_target() as server:
        yield server


@pytest.fixture
def client(demo: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.base_url, timeout=5) as http:
        yield http
