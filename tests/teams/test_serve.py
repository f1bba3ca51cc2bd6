"""`golive serve` with Teams configured next to Slack: one web server answers Slack's /slack/events, the
health probes and Teams' /api/messages, over one ChatOps and one store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.commands.common import Context
from checks.spec import Checklist
from tests.serving import serving
from tests.teams.conftest import OUTSIDER
from tests.teams.support import card_text, cards_of, message, user


async def status_card_text(base: str) -> str:
    """Ask `status` as a Teams user would (expectReplies) and return the card's text."""
    activity = {**message("status", "http://127.0.0.1:9/", user(OUTSIDER)), "deliveryMode": "expectReplies"}
    async with aiohttp.ClientSession(base) as http, http.post("/api/messages", json=activity) as response:
        assert response.status == 200
        [reply] = (await response.json())["activities"]
    return card_text(cards_of(reply))


async def test_serve_mounts_the_teams_endpoint(checklist: Checklist, isolated_env: None, tmp_path: Path) -> None:
    slack_support = pytest.importorskip("tests.slack.support", reason="the Slack transport's test stub is absent")
    slack = await slack_support.SlackStub().start()
    settings: Any = slack_support.bot_settings(slack).model_copy(
        update={"teams_anonymous": True, "database_url": None, "state_dir": tmp_path})  # SQLite store
    try:
        async with serving(settings, checklist) as base:
            assert "golive status — teams-test" in await status_card_text(base)
    finally:
        await slack.close()


async def test_serve_runs_teams_alone_without_slack(checklist: Checklist, isolated_env: None, tmp_path: Path) -> None:
    """A team that lives in Teams needs no Slack app: no Slack token, no /slack/events, Teams answers."""
    from bot.settings import Settings

    settings: Any = Settings(_env_file=None, teams_anonymous=True, state_dir=tmp_path)
    async with serving(settings, checklist) as base:
        async with aiohttp.ClientSession(base) as http, http.post("/slack/events", data="x") as response:
            assert response.status == 404
        assert "golive status" in await status_card_text(base)


def test_serve_without_any_transport_says_what_to_set(checklist: Checklist, isolated_env: None) -> None:
    from bot.commands.common import UsageError
    from bot.commands.serve import check_credentials
    from bot.settings import Settings

    with pytest.raises(UsageError, match=r"SLACK_BOT_TOKEN .* TEAMS_APP_ID"):
        check_credentials(Context(Settings(_env_file=None), checklist), http=True)
