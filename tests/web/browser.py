"""One headless Chromium for the whole test session (Debian's `chromium`, driven by Playwright for
Python; nothing is downloaded at run time). Without chromium the browser tests FAIL, saying how to
install it: CI installs it (.ci/run), and a skipped browser test would prove nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    """A Playwright browser context of one headless Chromium with a fresh user-data dir."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium chromium-driver` "
                    "(.ci/run does this in CI); the web view's browser tests need it")
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("playwright is missing: `pip install -r requirements-test.lock` (never `playwright install`)")
    profile = tempfile.mkdtemp(prefix="golive-chromium-")
    playwright = await async_playwright().start()
    try:
        context = await playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1000, "height": 760},
            timeout=60_000)
        try:
            yield context
        finally:
            await context.close()
    finally:
        await playwright.stop()
        shutil.rmtree(profile, ignore_errors=True)


class Console:
    """Everything a page logged, and every uncaught error: CSP violations show up here."""

    def __init__(self, page: Any) -> None:
        self.lines: list[str] = []
        page.on("console", lambda m: self.lines.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.lines.append(f"pageerror: {e}"))

    def problems(self, *, allow: tuple[str, ...] = ()) -> list[str]:
        return [line for line in self.lines if line.split(":", 1)[0] in ("error", "warning", "pageerror")
                and not any(a in line for a in allow)]


async def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path
