"""`golive doctor` checks a configuration without serving: one line per item with its fix, exit 1 when
something must be fixed. Against the local Slack Web API stand-in, the shared PostgreSQL/Redis and a
checklist whose target is a closed port; offline Slack is reported as DNS, not as a bad token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main as cli
from bot.settings import get_settings
from tests.conftest import REDIS_URL
from tests.slack.support import BOT_TOKEN, CHANNEL, SlackStub


def _configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api_url: str, roles: str) -> None:
    for name, value in {"SLACK_BOT_TOKEN": BOT_TOKEN, "GOLIVE_SLACK_API_URL": api_url, "GOLIVE_SLACK_CHANNEL": CHANNEL,
                        "GOLIVE_REDIS_URL": REDIS_URL, "GOLIVE_ROLES": roles,
                        "GOLIVE_STATE_DIR": str(tmp_path / "state")}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


async def _doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, str]]:
    code = await asyncio.to_thread(cli, ["doctor", *argv])
    lines = [line for line in capsys.readouterr().out.splitlines() if ": " in line and line[:4].strip()]
    return code, {line[6:].split(":", 1)[0]: line for line in lines}


async def test_doctor_reports_each_item_with_its_fix(stub: SlackStub, checklist_path: Path, tmp_path: Path,
                                                     isolated_env: None, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _configure(monkeypatch, tmp_path, stub.api_url, "tech_lead=U0TECH;devops_lead=S0DEVOPS;product_owner=U0GONE1")
    code, lines = await _doctor(capsys, "--checklist", str(checklist_path), "--http")
    assert code == 1, lines
    assert lines["checklist"].startswith("ok")
    assert lines["store"].startswith("ok") and "writable" in lines["store"]
    assert lines["Redis"].startswith("ok")
    assert lines["Slack bot token"].startswith("ok")
    assert lines["Slack scopes"].startswith("ok")
    assert lines["Slack release channel"].startswith("ok") and "#release" in lines["Slack release channel"]
    assert lines["role tech_lead (pre)"].startswith("ok")
    assert lines["role devops_lead (pre)"].startswith("ok") and "2 Slack user(s)" in lines["role devops_lead (pre)"]
    gone = lines["role product_owner (pre)"]
    assert gone.startswith("FAIL") and "U0GONE1 (user_not_found)" in gone and "Copy member ID" in gone
    assert lines["Slack signing secret"].startswith("FAIL") and "Signing Secret" in lines["Slack signing secret"]
    assert BOT_TOKEN not in "".join(lines.values())
    assert not any(c.method.startswith("chat.") for c in stub.calls), "doctor never posts"


async def test_doctor_says_offline_is_dns_not_a_bad_token(checklist_path: Path, tmp_path: Path, isolated_env: None,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _configure(monkeypatch, tmp_path, "http://slack-api.golive-test.invalid/api/", "tech_lead=U0TECH")
    code, lines = await _doctor(capsys, "--checklist", str(checklist_path))
    assert code == 1
    token = lines["Slack bot token"]
    assert token.startswith("FAIL") and "DNS" in token and "refused" not in token, token


def test_serve_offline_says_dns_not_rejected_token(isolated_env: None, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`golive serve` on a machine that cannot resolve Slack's host exits 2 naming DNS, not the token."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("GOLIVE_SLACK_API_URL", "http://slack-api.golive-test.invalid/api/")
    get_settings.cache_clear()
    assert cli(["serve", "--http", "--host", "127.0.0.1", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "DNS" in err and "rejected" not in err, err
