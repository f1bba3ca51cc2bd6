"""Teams' first try: `golive serve --http` with only the Teams test configuration (anonymous, a local
Bot Connector stand-in; Teams is not reachable here) serves the bundled demo, and `@golive run` gets a
run card that updates live and ends in the demo's verdict. The real `golive serve` process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.slack.test_slack_restart import free_port, wait_started
from tests.teams.support import Connector, assert_valid_card, card_text, cards_of, message, user

REPO = Path(__file__).resolve().parents[2]


async def test_serve_http_teams_only_runs_the_demo_and_updates_its_card(tmp_path: Path) -> None:
    connector = await Connector().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_", "TEAMS_"))}
    env.update({"GOLIVE_TEAMS_ANONYMOUS": "true", "GOLIVE_STATE_DIR": str(tmp_path / "state"),
                "PYTHONPATH": str(REPO)})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1", "--port",
                             str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        await wait_started(url, proc)
        activity = message("run", connector.url, user("aad-release", "Rel Eng"))
        async with aiohttp.ClientSession() as http, http.post(f"{url}/api/messages", json=activity) as response:
            assert response.status in (200, 201, 202)
        deadline = time.monotonic() + 60
        final = ""
        while time.monotonic() < deadline:
            texts = [card_text(card) for call in connector.calls for card in cards_of(call.body)]
            final = next((t for t in reversed(texts) if "GO (conditional)" in t), "")
            if final:
                break
            await asyncio.sleep(0.1)
        assert final, [card_text(cards_of(c.body)) for c in connector.calls][-3:]
        for call in connector.calls:
            for card in cards_of(call.body):
                assert_valid_card(card)
        assert any(c.method == "PUT" for c in connector.calls), "the run card is updated in place, not re-posted"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(proc.communicate, timeout=20)
        await connector.close()
    assert "GOLIVE_DEMO_URL" not in err, err[-2000:]
