"""`golive serve` wires the rollout: `/golive promote` goes through the gate and the rollout service, the
announcement reaches the release channel, and the watch supervisor runs inside the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.demo import DemoServer
from bot.runs.service import execute_run
from bot.store import open_store
from checks.spec import Checklist
from tests.conftest import REDIS_URL
from tests.rollout.test_promote import sign
from tests.serving import serving
from tests.slack.support import CHANNEL, SlackStub, bot_settings, post_signed, slash_command


async def test_serve_promotes_through_the_gate_and_announces(write_checklist: Callable[..., Checklist],
                                                             target: DemoServer, tmp_path: Path,
                                                             isolated_env: None, redis_prefix: str) -> None:
    checklist = write_checklist(target.base_url)
    stub = await SlackStub().start()
    settings: Any = bot_settings(stub, redis_url=REDIS_URL, redis_prefix=redis_prefix).model_copy(
        update={"database_url": None, "state_dir": tmp_path / "state"})

    async def reply(base: str, text: str, name: str) -> str:
        body = slash_command(text, user="U0TECH", channel=CHANNEL, response_url=stub.response_url(name))
        answer = await post_signed(f"{base}/slack/events", body)
        assert answer.status == 200
        calls = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                             if c.payload["response_url_name"] == name], what=name)
        return calls[0].text

    try:
        async with serving(settings, checklist) as base:
            refused = await reply(base, "promote phase-1", "refused")
            assert "refused" in refused and "sign-off missing" in refused

            store = open_store(None, sqlite_path=tmp_path / "state" / "golive.db")
            await execute_run(store, checklist, "health.ready")
            sign(store, checklist, "tech_lead", "devops_lead")
            store.close()
            promoted = await reply(base, "promote phase-1", "promoted")
            assert "refused" not in promoted, promoted
            announcement = await stub.wait_for(
                lambda: [c for c in stub.of("chat.postMessage")
                         if "phase-1" in c.text and c.payload["channel"] == CHANNEL], what="announcement")
            assert announcement
            stub.assert_clean()
    finally:
        await stub.close()
