"""`golive doctor`'s Slack part: the bot token and its scopes, the app token for Socket Mode, the release
channel, and whether every sign-off role resolves to real Slack users. Read-only calls only."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.diagnostics.doctor_report import Finding
from bot.diagnostics.netreason import network_reason
from bot.slack.poster import slack_error
from bot.slack.scopes import bot_scopes
from checks.spec import Checklist

REINSTALL = "api.slack.com/apps → your app → OAuth & Permissions: add the scopes, then Reinstall to Workspace"
BOT_TOKEN_FIXES = {  # Slack's refusals of auth.test whose fix is not "copy the token again"
    "token_revoked": "OAuth & Permissions → Reinstall to Workspace, then put the new xoxb- token in SLACK_BOT_TOKEN",
    "not_allowed_token_type": "SLACK_BOT_TOKEN must be the xoxb- Bot User OAuth Token from OAuth & Permissions "
                              "(the xapp- token goes in SLACK_APP_TOKEN)",
}
APP_TOKEN_FIX = "put an xapp- token with connections:write (Basic Information → App-Level Tokens) in SLACK_APP_TOKEN"
APP_TOKEN_FIXES: dict[str, tuple[str, str]] = {  # Slack's refusals of apps.connections.open, each with its fix
    "token_revoked": ("Slack says SLACK_APP_TOKEN was revoked ({error})",
                      "generate a new token with connections:write (Basic Information → App-Level Tokens) "
                      "and put it in SLACK_APP_TOKEN"),
    "not_allowed_token_type": ("SLACK_APP_TOKEN is not an app-level token ({error})",
                               "use the xapp- token from Basic Information → App-Level Tokens, not the xoxb- bot "
                               "token"),
    "invalid_auth": ("Slack does not know SLACK_APP_TOKEN ({error})",
                     "copy the xapp- token again from Basic Information → App-Level Tokens (it may belong to "
                     "another app or workspace)"),
    "not_authed": ("Slack received no token ({error})", APP_TOKEN_FIX),
    "missing_scope": ("SLACK_APP_TOKEN lacks connections:write ({error})",
                      "generate a token with the connections:write scope (Basic Information → App-Level Tokens)"),
}


async def slack_findings(client: AsyncWebClient, *, app_token: str | None, channel: str | None,
                         checklist: Checklist, socket_mode: bool) -> list[Finding]:
    out: list[Finding] = []
    try:
        auth = await client.auth_test()
    except Exception as exc:
        reason = network_reason(exc)
        if reason:
            return [Finding.fail("Slack bot token", f"could not reach Slack: {reason}",
                                 "check the network / proxy (GOLIVE_SLACK_API_URL) and try again")]
        error = slack_error(exc)
        fix = BOT_TOKEN_FIXES.get(error, "set SLACK_BOT_TOKEN to the xoxb- token from OAuth & Permissions")
        return [Finding.fail("Slack bot token", f"auth.test refused it ({error})", fix)]
    out.append(Finding.ok("Slack bot token", f"valid for team {auth.get('team')} as @{auth.get('user')}"))
    granted = {s.strip() for s in (auth.headers or {}).get("x-oauth-scopes", "").split(",") if s.strip()}
    missing = sorted(set(bot_scopes()) - granted) if granted else []
    if missing:
        out.append(Finding.fail("Slack scopes", f"missing {', '.join(missing)}", REINSTALL))
    elif granted:
        out.append(Finding.ok("Slack scopes", f"all {len(bot_scopes())} the bot needs"))
    else:
        out.append(Finding.warn("Slack scopes", "Slack did not list the token's scopes", REINSTALL))
    out.append(await _app_token(client, app_token, socket_mode))
    out.append(await _channel(client, channel))
    out.extend(await _roles(client, checklist))
    return out


async def _app_token(client: AsyncWebClient, app_token: str | None, socket_mode: bool) -> Finding:
    if not app_token:
        if socket_mode:
            return Finding.fail("Slack app token", "SLACK_APP_TOKEN is not set (Socket Mode needs it)",
                                "Basic Information → App-Level Tokens: create one with connections:write, "
                                "or serve with --http")
        return Finding.ok("Slack app token", "not needed (HTTP mode)")
    # Exactly what Socket Mode does at start: apps.connections.open with the xapp- token as the bearer token
    # (it hands out a WebSocket URL; doctor never connects to it, so the call changes nothing).
    app_client = AsyncWebClient(base_url=client.base_url, timeout=client.timeout)
    try:
        await app_client.apps_connections_open(app_token=app_token)
    except Exception as exc:
        reason = network_reason(exc)
        if reason:
            return Finding.fail("Slack app token", f"could not reach Slack: {reason}",
                                "check the network / proxy (GOLIVE_SLACK_API_URL) and try again")
        error = slack_error(exc)
        detail, fix = APP_TOKEN_FIXES.get(error, (f"apps.connections.open refused it ({error})", APP_TOKEN_FIX))
        return Finding.fail("Slack app token", detail.format(error=error), fix)
    return Finding.ok("Slack app token", "can open a Socket Mode connection")


async def _channel(client: AsyncWebClient, channel: str | None) -> Finding:
    if not channel:
        return Finding.warn("Slack release channel", "GOLIVE_SLACK_CHANNEL is not set: announcements and alerts "
                            "have nowhere to go", "set GOLIVE_SLACK_CHANNEL to the channel id (C…)")
    try:
        info: Any = await client.conversations_info(channel=channel)
    except Exception as exc:
        return Finding.fail("Slack release channel", f"{channel}: {network_reason(exc) or slack_error(exc)}",
                            "check the id (channel details → About → Channel ID) and invite the bot: /invite @golive")
    data = info.get("channel") or {}
    if data.get("is_private") and not data.get("is_member"):
        return Finding.fail("Slack release channel",
                            f"#{data.get('name', channel)} is private and the bot is not in it",
                            "invite the bot: /invite @golive")
    member = "a member" if data.get("is_member") else "not a member (posts through chat:write.public)"
    return Finding.ok("Slack release channel", f"#{data.get('name', channel)}, bot is {member}")


async def _roles(client: AsyncWebClient, checklist: Checklist) -> list[Finding]:
    out: list[Finding] = []
    for stage_id, stage in (checklist.signoffs or {}).items():
        for role in stage.roles:
            name = f"role {role.id} ({stage_id})"
            if not role.members and not role.groups:
                out.append(Finding.fail(name, "nobody holds it: every click will be refused",
                                        f"GOLIVE_ROLES=\"{role.id}=U…\" or members:/groups: in the checklist"))
                continue
            unknown: list[str] = []
            people = 0
            for user in role.members:
                if not user.startswith(("U", "W")):
                    continue  # a Teams (Entra) id: nothing Slack can tell about it
                try:
                    answer: Any = await client.users_info(user=user)
                    person = answer.get("user") or {}
                    if person.get("deleted") or person.get("is_bot"):
                        unknown.append(f"{user} (deactivated or a bot)")
                    else:
                        people += 1
                except Exception as exc:
                    unknown.append(f"{user} ({slack_error(exc)})")
            for group in role.groups:
                try:
                    members: Any = await client.usergroups_users_list(usergroup=group)
                    people += len(members.get("users") or [])
                except Exception as exc:
                    unknown.append(f"{group} ({slack_error(exc)})")
            if unknown:
                out.append(Finding.fail(name, "does not resolve: " + ", ".join(unknown),
                                        "use the member id from the person's profile (⋮ → Copy member ID)"))
            else:
                out.append(Finding.ok(name, f"{people} Slack user(s)" if people else "Teams members only"))
    return out
