"""`golive manifest --url URL` / `--socket`: print the Slack app manifest to paste into api.slack.com.

The output is checked before it is printed (URL, name, and Slack's own schema where this machine has
it), so a manifest that Slack would refuse at upload is exit 2 here instead."""

from __future__ import annotations

import argparse

from bot.commands import teams_manifest
from bot.commands.common import UsageError
from bot.commands.manifest_inputs import ManifestInputError, app_name, public_url, schema_errors
from bot.settings import get_settings
from bot.slack.manifest import build_manifest, render_manifest

SLACK_SCHEMA = "slack-manifest/manifest.schema.1.0.0.json"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("manifest", help="print the Slack app manifest with the request URLs filled in")
    p.add_argument("--url", help="the bot's public base URL, https://… (default: $GOLIVE_PUBLIC_URL); "
                   "/slack/events is appended")
    p.add_argument("--socket", action="store_true", help="Socket Mode: no request URLs")
    p.add_argument("--name", default="golive", help="app and bot display name (at most 30 characters)")
    teams_manifest.add_arguments(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        args.name = app_name(args.name)
        if args.teams:
            return teams_manifest.main(args)
        url: str | None = args.url or get_settings().public_url
        if not args.socket and not url:
            raise UsageError("give the public URL Slack should call (--url https://golive.example.com), "
                             "or --socket for Socket Mode")
        manifest = build_manifest(public_url(url) if url and not args.socket else None, socket=args.socket,
                                  name=args.name)
    except ManifestInputError as exc:
        raise UsageError(str(exc)) from None
    errors = schema_errors(manifest, SLACK_SCHEMA)
    if errors:
        raise UsageError("the manifest would not pass Slack's schema: " + "; ".join(errors[:5]))
    print(render_manifest(manifest), end="")
    return 0
