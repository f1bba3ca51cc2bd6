"""The secret corpus through Slack: `/golive run leaks` against a hostile target whose every error body and
command output is a corpus form; no value reaches any Slack Web API call, the store or the logs."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from checks.loader import load_checklist
from tests.secrets_corpus import CORPUS, hostile_target, leaks, leaky_checklist
from tests.slack.support import SlackStub, running_bot


async def test_no_corpus_secret_reaches_slack_the_store_or_the_logs(stub: SlackStub, store, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("GOLIVE_POST_INTERVAL", "0.005")  # a reply per failed check: no need to pace like Slack
    monkeypatch.setenv("GOLIVE_POST_BURST", "500")
    with hostile_target() as base_url:
        checklist = load_checklist(leaky_checklist(tmp_path, base_url))
        async with running_bot(stub, checklist, store, progress_interval=0.5) as bot:
            answer = await bot.command("run leaks", response="run")
            assert answer.status == 200
            await stub.wait_for(lambda: store.runs() and store.runs()[0].status == "finished", timeout=60,
                                what="the run to finish")
            parent = stub.posts(top_level=True)[0].payload["ts"]
            expected = {f"leak.{kind}.{i}" for i in range(len(CORPUS)) for kind in ("http", "cmd")}

            def evidence_of_every_check() -> bool:  # replies may group several checks (paced posting)
                thread = json.dumps([c.payload for c in stub.posts(thread_ts=parent)])
                return expected <= set(re.findall(r"leak\.(?:http|cmd)\.\d+", thread))

            await stub.wait_for(evidence_of_every_check, timeout=60, what="the evidence of every failed check")
    calls = json.dumps([c.payload for c in stub.calls], default=str)
    assert "leak.http.0" in calls and "leak.cmd.0" in calls
    assert "Jb-dbpass" not in calls and 'db_password\\\": \\\"***' in calls  # evidence shown, masked
    assert leaks(calls) == []
    run = store.runs()[0]
    stored = json.dumps([r.model_dump(mode="json") for r in store.results(run.id)])
    assert "body_excerpt" in stored and leaks(stored) == []
    assert leaks(caplog.text) == []
    stub.assert_clean()
