"""`golive manifest --url URL` / `--socket`: print the Slack app manifest to paste into api.slack.com."""

from __future__ import annotations

import argparse

from bot.commands import teams_manifest
from bot.commands.common import UsageError
from bot.settings import get_settings
from bot.slack.manifest import build_manifest, render_manifest


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("manifest", help="print the Slack app manifest with the request URLs filled in")
    p.add_argument("--url", help="the bot's public base URL (default: $GOLIVE_PUBLIC_URL); "
                   "/slack/events is appended")
    p.add_argument("--socket", action="store_true", help="Socket Mode: no request URLs")
    p.add_argument("--name", default="golive", help="app and bot display name")
    teams_manifest.add_arguments(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.teams:
        return teams_manifest.main(args)
    url = args.url or get_settings().public_url
    if not args.socket and not url:
        raise UsageError("give the public URL Slack should call (--url https://golive.example.com), "
                         "or --socket for Socket Mode")
    print(render_manifest(build_manifest(url, socket=args.socket, name=args.name)), end="")
    return 0
