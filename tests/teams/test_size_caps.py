"""Size caps: a run with many long failing commands (the issue's 45.8 KB card) is trimmed under Teams'
28 KB message limit, still validates against Adaptive Cards 1.5, and says where the full evidence is;
`golive status --run <id>` shows that evidence in full."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.teams import cardkit
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.teams.conftest import TECH_LEAD, TeamsClient
from tests.teams.support import assert_valid_card, card_text, find_actions, message, user

TEAMS_LIMIT = 28 * 1024
FAILING = 14


def long_command(n: int) -> str:
    """A deploy step as long as real ones get: a long pipeline that fails."""
    steps = " && ".join(f"helm upgrade --install svc{n}-{i} ./charts/service --namespace prod-{i} "
                        f"--set image.tag=release-2025.{i:02d} --atomic --timeout 600s" for i in range(14))
    return f"{steps} && echo MARKER-END-{n}; exit 3"


def checklist_text() -> str:
    checks = "\n".join(
        f"      - {{id: deploy.step{n:02d}, kind: command, criticality: critical, timeout: 10, "
        f"params: {{shell: true, command: {long_command(n)!r}}}}}" for n in range(FAILING))
    return f"name: teams-size\nphases:\n  - id: day1\n    checks:\n{checks}\n"


@pytest.fixture
def checklist(tmp_path: Path) -> Checklist:
    path = tmp_path / "size.yml"
    path.write_text(checklist_text())
    return load_checklist(path)


async def test_the_long_failing_commands_card_is_trimmed_under_28_kb(client: TeamsClient,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    [card] = await client.reply_cards(message("run day1", client.service_url, user(TECH_LEAD), mention=True))
    [run] = client.transport.bot.chatops.store.runs(checklist="teams-size")

    size = cardkit.card_bytes(card)
    assert size <= cardkit.MAX_CARD_BYTES < TEAMS_LIMIT, size
    assert_valid_card(card)
    text = card_text(card)
    assert "Run day1 — NO-GO" in text
    assert f"… (full evidence: `golive status --run {run.id}`)" in text
    assert "deploy.step00" in text  # the first problems are still there, trimmed

    # the same reply without the cap is the oversized card
    monkeypatch.setattr(cardkit, "MAX_CARD_BYTES", 10**9)
    untrimmed = await client.reply_cards(message("run day1", client.service_url, user(TECH_LEAD)))
    assert untrimmed and cardkit.card_bytes(untrimmed[0]) > 40_000
    print(f"\nrun card: {cardkit.card_bytes(untrimmed[0]):,} bytes untrimmed, {size:,} bytes trimmed")


def test_fit_keeps_buttons_and_the_headline() -> None:
    body = [cardkit.heading("Run day1 — NO-GO")]
    body += [cardkit.container([cardkit.text("x" * 1500), cardkit.action_set([cardkit.execute(
        "Confirm", "golive.confirm", {"run": "r1", "check": f"c{i}"})])]) for i in range(30)]
    card = cardkit.card(body, fallback="day1", run_id="r1")
    assert cardkit.card_bytes(card) <= cardkit.MAX_CARD_BYTES
    assert_valid_card(card)
    assert card["body"][0]["text"] == "Run day1 — NO-GO"
    assert card["body"][-1]["text"] == "… (full evidence: `golive status --run r1`)"
    assert [a["data"]["check"] for a in find_actions(card)] == [f"c{i}" for i in range(30)]


def test_a_small_card_is_left_alone() -> None:
    card = cardkit.card([cardkit.heading("hello"), cardkit.text("world")], fallback="hi", run_id="r1")
    assert "golive status" not in card_text(card)


def test_golive_status_run_shows_the_full_evidence(tmp_path: Path, isolated_env: None,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "size.yml"
    path.write_text(checklist_text())
    assert main(["run", "deploy.step03", "--checklist", str(path)]) == 1
    capsys.readouterr()
    assert main(["history", "--checklist", str(path)]) == 0
    run_id = capsys.readouterr().out.split()[0]

    assert main(["status", "--run", run_id, "--checklist", str(path)]) == 0
    out = capsys.readouterr().out
    assert long_command(3).split(";")[0] in out  # the whole command, not trimmed
    assert "MARKER-END-3" in out and "NO-GO" in out

    assert main(["status", "--run", "no-such-run", "--checklist", str(path)]) == 2
    assert "golive history" in capsys.readouterr().err
