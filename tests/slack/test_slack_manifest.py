"""manifest.yml is a valid Slack app manifest, in sync with the code: the slash command and the
interactive ids the app registers, and exactly the scopes the Web API methods it calls need."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.cli import main as cli_main
from bot.slack import ids
from bot.slack.ids import COMMAND
from bot.slack.introspect import registered_handlers
from bot.slack.manifest import PLACEHOLDER_URL, build_manifest, render_manifest
from bot.slack.scopes import EXTRA_SCOPES, METHOD_SCOPES, bot_scopes
from tests.slack.support import SlackStub, running_bot

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "tests" / "schemas" / "slack-manifest"  # verbatim copies of Slack's own (tests/schemas/README.md)
SCHEMA = SCHEMAS / "manifest.schema.1.0.0.json"


def manifest() -> dict:
    return yaml.safe_load((REPO / "manifest.yml").read_text())


def validate(data: dict) -> None:
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(data)


def test_the_schema_copy_accepts_slacks_own_valid_example_and_refuses_a_broken_one() -> None:
    example = json.loads((SCHEMAS / "example.valid.json").read_text())
    validate(example)
    with pytest.raises(jsonschema.ValidationError):
        validate({**example, "not_a_manifest_key": True})


def test_manifest_yml_validates_against_slacks_schema() -> None:
    validate(manifest())


def test_manifest_yml_is_what_the_code_generates() -> None:
    assert (REPO / "manifest.yml").read_text() == render_manifest(build_manifest(PLACEHOLDER_URL)), \
        "regenerate: golive manifest --url https://golive.example.com > manifest.yml"


async def test_manifest_agrees_with_the_registered_handlers(stub: SlackStub, checklist, store) -> None:
    data = manifest()
    async with running_bot(stub, checklist, store, start=False) as bot:
        handlers = registered_handlers(bot.bot.app)
    commands = {c["command"] for c in data["features"]["slash_commands"]}
    assert handlers.commands == commands == {COMMAND}
    assert handlers.actions  # buttons exist, so interactivity must be on and point at the bot
    assert {"signoff_approve", "signoff_reject", "run_rerun", "rollout_rollback"} <= handlers.actions
    assert handlers.views == {"signoff_reject_reason"}
    declared = vars(ids)
    assert handlers.actions == {v for k, v in declared.items() if k.startswith("ACTION_")}
    assert handlers.views == {v for k, v in declared.items() if k.startswith("VIEW_")}
    interactivity = data["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].endswith("/slack/events")
    assert all(c["url"] == interactivity["request_url"] for c in data["features"]["slash_commands"])
    assert data["settings"]["token_rotation_enabled"] is False
    assert data["settings"]["socket_mode_enabled"] is False


def web_api_methods_called_in(package: Path) -> set[str]:
    """`client.chat_postMessage(...)` style calls anywhere under bot/slack → {"chat.postMessage", ...}."""
    from slack_sdk.web.async_client import AsyncWebClient

    known = {name: name for name in dir(AsyncWebClient) if not name.startswith("_")}
    found = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in known and "_" in node.attr and \
                    isinstance(node.value, ast.Attribute | ast.Name) and \
                    (getattr(node.value, "attr", None) or getattr(node.value, "id", None)) == "client":
                found.add(node.attr)
    return {_method_name(n) for n in found}


def _method_name(attr: str) -> str:
    group, _, rest = attr.partition("_")
    if group == "usergroups":  # usergroups_users_list → usergroups.users.list
        return "usergroups." + rest.replace("_", ".")
    return f"{group}.{rest}"


def test_scopes_cover_every_web_api_method_the_code_calls() -> None:
    called = web_api_methods_called_in(REPO / "bot")  # the Slack package, and e.g. the audit witness
    assert called, "no Web API calls found: the scan is broken"
    missing = called - set(METHOD_SCOPES)
    assert not missing, f"declare these in bot.slack.scopes.METHOD_SCOPES: {missing}"
    assert {"chat.postMessage", "chat.update", "views.open", "usergroups.users.list"} <= called
    needed = {METHOD_SCOPES[m] for m in called if METHOD_SCOPES[m]} | set(EXTRA_SCOPES)
    assert sorted(needed) == bot_scopes() == manifest()["oauth_config"]["scopes"]["bot"]


def test_golive_manifest_prints_http_and_socket_variants(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["manifest", "--url", "https://bot.example.org/"]) == 0
    http = yaml.safe_load(capsys.readouterr().out)
    validate(http)
    assert http["features"]["slash_commands"][0]["url"] == "https://bot.example.org/slack/events"
    assert http["settings"]["interactivity"]["request_url"] == "https://bot.example.org/slack/events"
    assert cli_main(["manifest", "--socket"]) == 0
    socket = yaml.safe_load(capsys.readouterr().out)
    validate(socket)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket["settings"]["interactivity"]
    assert "url" not in socket["features"]["slash_commands"][0]


def test_golive_manifest_without_url_says_what_to_do(capsys: pytest.CaptureFixture[str],
                                                     isolated_env: None) -> None:
    assert cli_main(["manifest"]) == 2
    assert "--url" in capsys.readouterr().err


@pytest.mark.parametrize(("url", "says"), [
    ("x.example.com", "did you mean https://x.example.com"),
    ("http://x.example.com", "https://"),
    ("https://", "no host"),
    ("https://x.example.com/?a=1", "without ?query"),
])
def test_golive_manifest_refuses_a_url_slack_would_reject(url: str, says: str, isolated_env: None,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["manifest", "--url", url]) == 2
    captured = capsys.readouterr()
    assert captured.out == "", "nothing is printed when the manifest is refused"
    assert says in captured.err


def test_golive_manifest_refuses_a_name_too_long_for_slack_and_teams(isolated_env: None,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["manifest", "--socket", "--name", "a" * 33]) == 2
    assert "at most 30" in capsys.readouterr().err
    assert cli_main(["manifest", "--socket", "--name", "b" * 30]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    validate(data)
    assert data["display_information"]["name"] == "b" * 30
