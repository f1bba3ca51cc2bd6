"""The Web API methods this app calls and the bot scope each needs. The manifest's scopes are
derived from this map, and tests fail when the code calls a method missing here."""

from __future__ import annotations

METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "views.open": None,
    "usergroups.users.list": "usergroups:read",
    # golive doctor: does the release channel exist with the bot in it; do role members resolve
    "conversations.info": "channels:read",
    "users.info": "users:read",
    "apps.connections.open": None,  # with the app-level token (connections:write is an app scope)
    # golive audit verify reads the witnessed audit heads back from the release channel (bot.authority.witness)
    "conversations.history": "channels:history",
}

EXTRA_SCOPES: dict[str, str] = {
    "commands": "the /golive slash command",
    "chat:write.public": "post run results and alerts in channels the bot was not invited to",
}


def bot_scopes() -> list[str]:
    """Exactly the scopes the app needs, sorted."""
    return sorted({s for s in METHOD_SCOPES.values() if s} | set(EXTRA_SCOPES))
