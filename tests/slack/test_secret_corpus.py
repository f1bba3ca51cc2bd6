"""The secret corpus through Slack: `/golive run leaks` against a hostile target whose every error body and
command output is a corpus form; no value reaches any Slack Web API call, the store or the logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from checks.loader import load_checklist
from tests.secrets_corpus import CORPUS, hostile_target, leaks, leaky_checklist
from tests.slack.support import SlackStub, running_bot


async def test_no_corpus_secret_reaches_slack_the_store_or_the_logs(stub: SlackStub, store, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with hostile_target() as base_url:
        checklist = load_checklist(leaky_checklist(tmp_path, base_url))
        async with running_bot(stub, checklist, store, progress_interval=0.5) as bot:
            answer = await bot.command("run leaks", response="run")
            assert answer.status == 200
            await stub.wait_for(lambda: store.runs() and store.runs()[0].status == "finished", timeout=60,
                                what="the run to finish")
            parent = stub.posts(top_level=True)[0].payload["ts"]
            await stub.wait_for(lambda: len(stub.posts(thread_ts=parent)) >= 2 * len(CORPUS), timeout=30,
                                what="a threaded reply per failed check")
    calls = json.dumps([c.payload for c in stub.calls], default=str)
    assert "leak.http.0" in calls and "leak.cmd.0" in calls
    assert "Jb-dbpass" not in calls and 'db_password\\\": \\\"***' in calls  # evidence shown, masked
    assert leaks(calls) == []
    run = store.runs()[0]
    stored = json.dumps([r.model_dump(mode="json") for r in store.results(run.id)])
    assert "body_excerpt" in stored and leaks(stored) == []
    assert leaks(caplog.text) == []
    stub.assert_clean()
