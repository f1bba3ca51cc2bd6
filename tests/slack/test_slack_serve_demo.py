"""A Slack admin's first try: `golive serve --http` from a fresh clone with only the two Slack secrets
serves the bundled demo, and a signed `/golive run` gets a live thread that ends in the demo's verdict.
The real `golive serve` process; a local stand-in for the Slack Web API (Slack is not reachable here)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.slack.support import SECRETS, SlackStub, post_signed, slash_command
from tests.slack.test_slack_restart import free_port, wait_started

REPO = Path(__file__).resolve().parents[2]


async def test_serve_http_with_two_secrets_runs_the_demo_in_a_thread(stub: SlackStub, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_", "TEAMS_"))}
    env.update({"SLACK_BOT_TOKEN": SECRETS[0], "SLACK_SIGNING_SECRET": SECRETS[1], "PYTHONPATH": str(REPO),
                "GOLIVE_SLACK_API_URL": stub.api_url,  # the only test-specific setting: where "Slack" is
                "GOLIVE_STATE_DIR": str(tmp_path / "state")})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1", "--port",
                             str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        await wait_started(url, proc)
        answer = await post_signed(f"{url}/slack/events", slash_command("run", response_url=stub.response_url()))
        assert answer.status == 200
        parent = (await stub.wait_for(lambda: stub.posts(top_level=True), what="the run's parent"))[0]
        ts = parent.payload["ts"]
        final = await stub.wait_for(lambda: (m := stub.latest(ts)) and "GO" in m.text and "running" not in
                                    m.text.lower() and m, timeout=60, what="the demo's verdict")
        assert "GO (conditional)" in final.text, final.text
        assert stub.posts(thread_ts=ts), "the failed legacy check's evidence is threaded under the parent"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.to_thread(proc.communicate, timeout=20)
    assert "GOLIVE_DEMO_URL" not in err, err[-2000:]
    for secret in SECRETS:
        assert secret not in out + err
