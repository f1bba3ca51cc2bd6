"""Size caps in Slack for the run with many long failing commands (the one that made a 45 KB Teams card):
the verdict and every threaded evidence reply stay within Slack's limits (50 blocks, 3000 characters per
section, 40,000 characters of text), validate, and a trimmed message points at `golive status --run <id>`."""

from __future__ import annotations

import json
from pathlib import Path

from bot.runs.service import execute_run
from bot.slack.views.blocks import MAX_BLOCKS, MAX_SECTION_TEXT, SlackMessage, context, fit_blocks, section
from bot.slack.views.run import NOTEWORTHY, check_reply, run_progress, run_verdict
from bot.store import open_store
from checks.loader import load_checklist
from tests.slack.support import MAX_BLOCKS_JSON, block_problems

SLACK_TEXT_LIMIT = 40_000
FAILING = 14


def long_command(n: int) -> str:
    steps = " && ".join(f"helm upgrade --install svc{n}-{i} ./charts/service --namespace prod-{i} "
                        f"--set image.tag=release-2025.{i:02d} --atomic --timeout 600s" for i in range(14))
    noisy = "for i in $(seq 1 12); do printf 'E%04d: %0700d' $i 0; echo; done"  # long output lines
    return f"({steps}) 2>/dev/null; ({noisy}) >&2; exit 3"


def assert_within_slack_limits(where: str, message: SlackMessage) -> dict:
    payload = message.payload()
    assert block_problems(where, payload) == []
    assert len(payload["blocks"]) <= MAX_BLOCKS and len(json.dumps(payload["blocks"])) <= MAX_BLOCKS_JSON
    assert len(payload["text"]) <= SLACK_TEXT_LIMIT
    for block in payload["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
    return payload


async def test_the_long_failing_commands_run_stays_within_slack_limits(tmp_path: Path) -> None:
    checks = "\n".join(
        f"      - {{id: deploy.step{n:02d}, kind: command, criticality: critical, timeout: 10, "
        f"params: {{shell: true, command: {long_command(n)!r}}}}}" for n in range(FAILING))
    path = tmp_path / "size.yml"
    path.write_text(f"name: slack-size\nphases:\n  - id: day1\n    checks:\n{checks}\n")
    store = open_store(sqlite_path=tmp_path / "golive.db")
    try:
        outcome = await execute_run(store, load_checklist(path), "day1")
    finally:
        store.close()
    run, report = outcome.run, outcome.report
    problems = [r for r in report.results if r.status in NOTEWORTHY]
    assert len(problems) == FAILING

    verdict = assert_within_slack_limits("verdict", run_verdict(run, report.results, report.verdict, report.wall_ms))
    assert "NO-GO" in verdict["text"]
    assert_within_slack_limits("progress", run_progress(run, report.results, len(report.results)))
    hint = f"… (full evidence: `golive status --run {run.id}`)"
    for result in problems:
        reply = assert_within_slack_limits(result.check_id, check_reply(result, run.id))
        assert hint in json.dumps(reply["blocks"], ensure_ascii=False)  # the evidence was trimmed: say where


def test_a_message_trimmed_for_size_points_at_the_run() -> None:
    blocks = [section("x" * 2900) for _ in range(60)]
    fitted = fit_blocks(blocks, "run-42")
    assert len(fitted) <= MAX_BLOCKS and len(json.dumps(fitted)) <= MAX_BLOCKS_JSON
    assert "golive status --run run-42" in json.dumps(fitted)
    assert block_problems("fitted", {"text": "t", "blocks": fitted}) == []


def test_a_small_message_is_left_alone() -> None:
    blocks = [section("hello"), context("world")]
    assert fit_blocks(blocks, "run-42") == [b.to_dict() for b in blocks]
