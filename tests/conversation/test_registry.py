"""Issue 21's transport registry: `serve` and the notifier loop over it and name no transport, so a third
transport is one package plus one registry line. Shown with the in-memory transport, registered exactly as
Slack and Teams are ("module:attribute"), served by the real `golive serve` with no Slack or Teams set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.announcements.events import Announcement
from bot.announcements.notifiers import build_notifier
from bot.conversation import registry
from bot.settings import Settings
from checks.spec import Checklist
from tests.serving import serving


@pytest.fixture
def memory_registered() -> Iterator[None]:
    registry.register("memory", "bot.conversation.memory_transport:TRANSPORT")  # the one line a transport adds
    try:
        yield
    finally:
        registry.unregister("memory")


def test_every_transport_is_one_registry_line() -> None:
    assert {"slack", "teams"} <= set(registry.REGISTRY)
    assert all(":" in spec for spec in registry.REGISTRY.values())
    assert [t.name for t in registry.available()][:2] == ["slack", "teams"]


async def test_serve_runs_a_registered_third_transport_alone(memory_registered: None, checklist: Checklist,
                                                            isolated_env: None, tmp_path: Path) -> None:
    settings: Any = Settings(_env_file=None, state_dir=tmp_path)  # no Slack token, no Teams app: memory only
    assert [t.name for t in registry.enabled(settings)] == ["memory"]
    async with serving(settings, checklist) as base, aiohttp.ClientSession(base) as http:
        async with http.post("/memory/messages", json={"text": "status", "user": "rel", "key": "k1"}) as response:
            assert response.status == 200
            said = await response.json()
        async with http.post("/memory/messages", json={"text": "status", "user": "rel", "key": "k1"}) as response:
            again = await response.json()  # a redelivery: the pipeline's dedupe holds here too
        async with http.post("/slack/events", data="x") as response:
            assert response.status == 404  # Slack is not configured, so not mounted
    assert [s["text"] for s in said] == [f"status {checklist.name}: " + said[0]["text"].split(": ", 1)[1]]
    assert said[0]["private_to"] is None and len(again) == 1


async def test_the_notifier_posts_in_every_registered_transport(memory_registered: None, checklist: Checklist,
                                                               store: Any, isolated_env: None) -> None:
    notifier = build_notifier(Settings(_env_file=None), store, terminal=False)
    await notifier.publish(Announcement("promoted", checklist.name, "phase-1", "U0REL"))
    [memory] = [n for n in notifier.notifiers if getattr(n, "channel", None) == "C-memory"]  # type: ignore[attr-defined]  # reason: FanoutNotifier holds plain Notifiers
    assert "promoted to phase-1" in memory.conversation.said[0].text
