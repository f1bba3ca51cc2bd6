"""The Teams app package: manifest.json plus the two icons, zipped for upload (Teams admin center, or
Developer Portal → Import app). Built from the same verb declarations the bot parses with (the ones marked
`menu`), so the command menu cannot drift; `teams/` at the repository root holds this with placeholder ids,
and a test keeps it in sync."""

from __future__ import annotations

import io
import json
import re
import zipfile
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

from bot.chatops.commands import menu
from bot.teams.icons import ACCENT, color_icon, outline_icon

MANIFEST_VERSION = "1.17"
SCHEMA = f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
PLACEHOLDER_APP_ID = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_URL = "https://golive.example.com"
SCOPES = ["team", "groupChat", "personal"]
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class ManifestError(ValueError):
    """The package cannot be built as asked (bad app id or URL); the message says what to fix."""


def app_version() -> str:
    try:
        return version("golive")
    except PackageNotFoundError:
        return "0.1.0"


def build_manifest(app_id: str = PLACEHOLDER_APP_ID, url: str | None = None, *, name: str = "golive",
                   version: str | None = None) -> dict[str, Any]:
    """The manifest for bot `app_id` (the Entra app registration id, TEAMS_APP_ID)."""
    if not _GUID.match(app_id or ""):
        raise ManifestError(f"the Teams bot id must be the Entra app id (a GUID), got {app_id!r}: set TEAMS_APP_ID")
    base = (url or PLACEHOLDER_URL).rstrip("/")
    host = urlsplit(base).hostname
    if urlsplit(base).scheme != "https" or not host:
        raise ManifestError(f"the app's website must be an https:// URL, got {base!r}")
    # the declared menu (Teams shows at most 10), with the `[service]` a bot serving several services takes
    commands = [command_entry(verb, what) for verb, what in menu(services=True)]
    return {
        "$schema": SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": version or app_version(),
        "id": app_id,
        "developer": {"name": name, "websiteUrl": base, "privacyUrl": f"{base}/privacy",
                      "termsOfUseUrl": f"{base}/terms"},
        "name": {"short": name[:30], "full": f"{name} — production go-live"[:100]},
        "description": {
            "short": "Go-live checks, sign-offs, Go/No-Go and rollout from Teams",
            "full": "Runs a production go-live from a Teams channel: readiness checks by phase with live "
                    "results, sign-off cards for the required roles, the Go/No-Go verdict with its reasons, "
                    "feature-flag rollout phases and alerts while they are watched.",
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [{"botId": app_id, "scopes": SCOPES, "isNotificationOnly": False, "supportsFiles": False,
                  "commandLists": [{"scopes": SCOPES, "commands": commands}]}],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [host],
    }


def command_entry(verb: str, what: str) -> dict[str, str]:
    """A command-menu entry: Teams types the title into the compose box, so it is the bare verb; the
    arguments lead the description."""
    name, _, args = verb.partition(" ")
    return {"title": name[:32], "description": (f"{args} — {what}" if args else what)[:128]}


def render_manifest(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def build_package(manifest: dict[str, Any]) -> bytes:
    """The zip Teams imports: manifest.json, color.png and outline.png at its root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", render_manifest(manifest))
        package.writestr("color.png", color_icon())
        package.writestr("outline.png", outline_icon())
    return buffer.getvalue()
