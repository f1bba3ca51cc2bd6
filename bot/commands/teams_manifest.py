"""`golive manifest --teams`: the Teams app package (a zip with manifest.json and the icons), or with
`--json` just the manifest on stdout. The bot id comes from TEAMS_APP_ID (or --app-id)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.commands.common import UsageError
from bot.settings import get_settings
from bot.teams.manifest import ManifestError, build_manifest, build_package, render_manifest

DEFAULT_PACKAGE = Path("golive-teams.zip")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The Teams options of `golive manifest` (the Slack command owns the parser)."""
    parser.add_argument("--teams", action="store_true", help="build the Microsoft Teams app package instead "
                        f"(writes {DEFAULT_PACKAGE}; --json prints the manifest)")
    parser.add_argument("--app-id", help="Teams: the bot's Entra app id (default: $TEAMS_APP_ID)")
    parser.add_argument("--out", type=Path, default=DEFAULT_PACKAGE, help="Teams: where to write the zip")
    parser.add_argument("--json", action="store_true", help="Teams: print manifest.json instead of writing the zip")


def main(args: argparse.Namespace) -> int:
    settings = get_settings()
    app_id = args.app_id or settings.teams_app_id
    if not app_id:
        raise UsageError("the Teams package needs the bot's app id: set TEAMS_APP_ID or pass --app-id")
    try:
        manifest = build_manifest(app_id, args.url or settings.public_url, name=getattr(args, "name", "golive"))
    except ManifestError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(render_manifest(manifest), end="")
        return 0
    args.out.write_bytes(build_package(manifest))
    print(f"golive: wrote {args.out} (manifest.json, color.png, outline.png); upload it in Teams → Apps → "
          "Manage your apps → Upload an app", file=sys.stderr)
    return 0
