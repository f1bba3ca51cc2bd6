"""`golive serve` with Teams configured next to Slack: one web server answers Slack's /slack/events, the
health probes and Teams' /api/messages, over one ChatOps and one store."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.commands.common import Context
from bot.commands.serve import serve
from checks.spec import Checklist
from tests.teams.conftest import OUTSIDER
from tests.teams.support import card_text, cards_of, message, user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_serve_mounts_the_teams_endpoint(checklist: Checklist, isolated_env: None, tmp_path: Path) -> None:
    slack_support = pytest.importorskip("tests.slack.support", reason="the Slack transport's test stub is absent")
    slack = await slack_support.SlackStub().start()
    settings: Any = slack_support.bot_settings(slack).model_copy(
        update={"teams_anonymous": True, "database_url": None, "state_dir": tmp_path})  # SQLite store
    port, stop = free_port(), asyncio.Event()
    task = asyncio.create_task(serve(Context(settings, checklist), http=True, host="127.0.0.1", port=port,
                                     stop=stop))
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            for _ in range(200):
                if task.done():
                    task.result()
                try:
                    async with http.get("/healthz/startup") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
            activity = {**message("status", "http://127.0.0.1:9/", user(OUTSIDER)), "deliveryMode": "expectReplies"}
            async with http.post("/api/messages", json=activity) as response:
                assert response.status == 200
                [reply] = (await response.json())["activities"]
        assert "golive status — teams-test" in card_text(cards_of(reply))
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await slack.close()


async def test_serve_runs_teams_alone_without_slack(checklist: Checklist, isolated_env: None, tmp_path: Path) -> None:
    """A team that lives in Teams needs no Slack app: no Slack token, no /slack/events, Teams answers."""
    from bot.settings import Settings

    settings: Any = Settings(_env_file=None, teams_anonymous=True, state_dir=tmp_path)
    port, stop = free_port(), asyncio.Event()
    task = asyncio.create_task(serve(Context(settings, checklist), http=True, host="127.0.0.1", port=port,
                                     stop=stop))
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            for _ in range(200):
                if task.done():
                    task.result()
                try:
                    async with http.get("/healthz/startup") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
            async with http.post("/slack/events", data="x") as response:
                assert response.status == 404
            activity = {**message("status", "http://127.0.0.1:9/", user(OUTSIDER)), "deliveryMode": "expectReplies"}
            async with http.post("/api/messages", json=activity) as response:
                assert response.status == 200
                [reply] = (await response.json())["activities"]
        assert "golive status" in card_text(cards_of(reply))
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def test_serve_without_any_transport_says_what_to_set(checklist: Checklist, isolated_env: None) -> None:
    from bot.commands.common import UsageError
    from bot.commands.serve import check_credentials
    from bot.settings import Settings

    with pytest.raises(UsageError, match=r"SLACK_BOT_TOKEN .* TEAMS_APP_ID"):
        check_credentials(Context(Settings(_env_file=None), checklist), http=True)
