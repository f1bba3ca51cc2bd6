"""`golive manifest --teams`: the Teams app package (a zip with manifest.json and the icons), or with
`--json` just the manifest on stdout. The bot id comes from TEAMS_APP_ID (or --app-id); the package
version from --version, or golive's version with --build folded in (Teams needs a higher one per upload)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.commands.common import UsageError
from bot.commands.manifest_inputs import ManifestInputError, package_version, public_url
from bot.settings import get_settings
from bot.teams.manifest import ManifestError, app_version, build_manifest, build_package, render_manifest

DEFAULT_PACKAGE = Path("golive-teams.zip")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The Teams options of `golive manifest` (the Slack command owns the parser)."""
    parser.add_argument("--teams", action="store_true", help="build the Microsoft Teams app package instead "
                        f"(writes {DEFAULT_PACKAGE}; --json prints the manifest)")
    parser.add_argument("--app-id", help="Teams: the bot's Entra app id (default: $TEAMS_APP_ID)")
    parser.add_argument("--out", type=Path, default=DEFAULT_PACKAGE, help="Teams: where to write the zip")
    parser.add_argument("--json", action="store_true", help="Teams: print manifest.json instead of writing the zip")
    parser.add_argument("--version", dest="package_version",
                        help="Teams: the package version, MAJOR.MINOR.PATCH (default: golive's own version)")
    parser.add_argument("--build", help="Teams: a build number 0-999 folded into the patch of the default "
                        "version (default: $GOLIVE_BUILD_NUMBER)")


def main(args: argparse.Namespace) -> int:
    settings = get_settings()
    app_id = args.app_id or settings.teams_app_id
    if not app_id:
        raise UsageError("the Teams package needs the bot's app id: set TEAMS_APP_ID or pass --app-id")
    try:
        url = args.url or settings.public_url
        version = package_version(args.package_version, app_version(),
                                  args.build or os.environ.get("GOLIVE_BUILD_NUMBER"))
        manifest = build_manifest(app_id, public_url(url) if url else None, name=getattr(args, "name", "golive"),
                                  version=version)
    except (ManifestError, ManifestInputError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(render_manifest(manifest), end="")
        return 0
    args.out.write_bytes(build_package(manifest))
    print(f"golive: wrote {args.out} (manifest.json, color.png, outline.png; version {version}); upload it in "
          "Teams → Apps → Manage your apps → Upload an app", file=sys.stderr)
    return 0
