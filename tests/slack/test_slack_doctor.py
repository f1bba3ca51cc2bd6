"""`golive doctor` checks a configuration without serving: one line per item with its fix, exit 1 when
something must be fixed. Against the local Slack Web API stand-in, the shared PostgreSQL/Redis and a
checklist whose target is a closed port; offline Slack is reported as DNS, not as a bad token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cli import main as cli
from bot.settings import get_settings
from tests.conftest import REDIS_URL
from tests.slack.support import APP_TOKEN, BOT_TOKEN, CHANNEL, SlackStub

UNKNOWN_APP_TOKEN = "xapp-1-A999-8888-neverissuedbyslack"


def _configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api_url: str, roles: str, *,
               bot_token: str = BOT_TOKEN, app_token: str | None = None) -> None:
    if app_token is not None:
        monkeypatch.setenv("SLACK_APP_TOKEN", app_token)
    for name, value in {"SLACK_BOT_TOKEN": bot_token, "GOLIVE_SLACK_API_URL": api_url, "GOLIVE_SLACK_CHANNEL": CHANNEL,
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


# -- the stand-in refuses what Slack refuses ---------------------------------------------------------------------
@pytest.mark.parametrize(("token", "error"), [(APP_TOKEN, None), (BOT_TOKEN, "not_allowed_token_type"),
                                              (UNKNOWN_APP_TOKEN, "invalid_auth"), ("", "not_authed")])
async def test_the_stand_in_opens_a_connection_only_for_the_app_token_as_bearer(stub: SlackStub, token: str,
                                                                                  error: str | None) -> None:
    client = AsyncWebClient(base_url=stub.api_url)
    if error is None:
        answer = await client.apps_connections_open(app_token=token)
        assert answer["url"].startswith("ws://")
        return
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("apps.connections.open", params={"token": token} if token else {})
    assert caught.value.response["error"] == error


async def test_the_stand_in_refuses_a_revoked_token_and_an_app_token_on_bot_methods(stub: SlackStub) -> None:
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(token=APP_TOKEN, base_url=stub.api_url).auth_test()
    assert caught.value.response["error"] == "not_allowed_token_type"
    stub.revoked.add(APP_TOKEN)
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(base_url=stub.api_url).apps_connections_open(app_token=APP_TOKEN)
    assert caught.value.response["error"] == "token_revoked"


# -- each doctor item against those refusals ----------------------------------------------------------------------
async def test_doctor_opens_socket_mode_with_a_valid_app_token(stub: SlackStub, checklist_path: Path, tmp_path: Path,
                                                             isolated_env: None, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The app token is sent as Slack wants it (the bearer token of apps.connections.open) and passes."""
    _configure(monkeypatch, tmp_path, stub.api_url, "tech_lead=U0TECH", app_token=APP_TOKEN)
    _, lines = await _doctor(capsys, "--checklist", str(checklist_path))
    assert lines["Slack app token"].startswith("ok") and "Socket Mode" in lines["Slack app token"], lines
    assert [c.method for c in stub.calls if c.method.startswith("apps.connections.open")] == ["apps.connections.open"]
    assert APP_TOKEN not in "".join(lines.values())


@pytest.mark.parametrize(("case", "words"), [
    ("revoked", ("revoked", "token_revoked", "generate a new token")),
    ("bot token", ("not an app-level token", "not_allowed_token_type", "not the xoxb- bot token")),
    ("unknown", ("does not know", "invalid_auth", "copy the xapp- token again")),
])
async def test_doctor_fails_an_app_token_slack_refuses_and_names_the_fix(
        stub: SlackStub, checklist_path: Path, tmp_path: Path, isolated_env: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], case: str, words: tuple[str, ...]) -> None:
    token = {"revoked": APP_TOKEN, "bot token": BOT_TOKEN, "unknown": UNKNOWN_APP_TOKEN}[case]
    if case == "revoked":
        stub.revoked.add(APP_TOKEN)
    _configure(monkeypatch, tmp_path, stub.api_url, "tech_lead=U0TECH", app_token=token)
    code, lines = await _doctor(capsys, "--checklist", str(checklist_path))
    line = lines["Slack app token"]
    assert code == 1 and line.startswith("FAIL") and " → " in line, line
    assert all(word in line for word in words), line
    assert lines["Slack bot token"].startswith("ok")


async def test_doctor_fails_socket_mode_without_an_app_token(stub: SlackStub, checklist_path: Path, tmp_path: Path,
                                                            isolated_env: None, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    _configure(monkeypatch, tmp_path, stub.api_url, "tech_lead=U0TECH")
    code, lines = await _doctor(capsys, "--checklist", str(checklist_path))
    assert code == 1 and lines["Slack app token"].startswith("FAIL") and "App-Level Tokens" in lines["Slack app token"]
    assert not stub.of("apps.connections.open")


@pytest.mark.parametrize(("case", "words"), [
    ("revoked", ("token_revoked", "Reinstall to Workspace")),
    ("app token", ("not_allowed_token_type", "Bot User OAuth Token")),
    ("unknown", ("invalid_auth", "xoxb- token from OAuth & Permissions")),
])
async def test_doctor_fails_a_bot_token_slack_refuses_and_names_the_fix(
        stub: SlackStub, checklist_path: Path, tmp_path: Path, isolated_env: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], case: str, words: tuple[str, ...]) -> None:
    token = {"revoked": BOT_TOKEN, "app token": APP_TOKEN, "unknown": "xoxb-1-2-neverissuedbyslack"}[case]
    if case == "revoked":
        stub.revoked.add(BOT_TOKEN)
    _configure(monkeypatch, tmp_path, stub.api_url, "tech_lead=U0TECH", bot_token=token)
    code, lines = await _doctor(capsys, "--checklist", str(checklist_path), "--http")
    line = lines["Slack bot token"]
    assert code == 1 and line.startswith("FAIL") and all(word in line for word in words), line
    assert "Slack scopes" not in lines  # nothing more can be asked with a refused token


async def test_doctor_names_the_scopes_slack_did_not_grant(stub: SlackStub, checklist_path: Path, tmp_path: Path,
                                                           isolated_env: None, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    stub.granted_scopes = [s for s in stub.granted_scopes if s not in ("channels:read", "users:read")]
    _configure(monkeypatch, tmp_path, stub.api_url, "tech_lead=U0TECH")
    _, lines = await _doctor(capsys, "--checklist", str(checklist_path), "--http")
    line = lines["Slack scopes"]
    assert line.startswith("FAIL") and "channels:read" in line and "users:read" in line, line
    assert "Reinstall to Workspace" in line


@pytest.mark.parametrize(("case", "words"), [
    ("unknown", ("channel_not_found", "Channel ID", "/invite @golive")),
    ("private", ("is private and the bot is not in it", "/invite @golive")),
])
async def test_doctor_fails_a_channel_the_bot_cannot_post_in(stub: SlackStub, checklist_path: Path, tmp_path: Path,
                                                             isolated_env: None, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str], case: str,
                                                             words: tuple[str, ...]) -> None:
    if case == "unknown":
        stub.channels.clear()
    else:
        stub.channels[CHANNEL].update(is_private=True, is_member=False)
    _configure(monkeypatch, tmp_path, stub.api_url, "tech_lead=U0TECH")
    _, lines = await _doctor(capsys, "--checklist", str(checklist_path), "--http")
    line = lines["Slack release channel"]
    assert line.startswith("FAIL") and all(word in line for word in words), line


async def test_doctor_fails_a_role_held_only_by_people_who_left_or_by_a_bot(
        stub: SlackStub, checklist_path: Path, tmp_path: Path, isolated_env: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _configure(monkeypatch, tmp_path, stub.api_url, "tech_lead=U0LEFT1,U0BOT1;devops_lead=S0DEVOPS")
    _, lines = await _doctor(capsys, "--checklist", str(checklist_path), "--http")
    line = lines["role tech_lead (pre)"]
    assert line.startswith("FAIL") and "U0LEFT1 (deactivated or a bot)" in line and "U0BOT1" in line, line
    assert lines["role devops_lead (pre)"].startswith("ok")
