"""`golive serve`: the Slack bot. Socket Mode by default (app-level token, no public URL needed), or
`--http --port N` behind a public URL (signing secret). Either way one aiohttp server on --port
answers the health probes (/healthz/live, /healthz/ready, /healthz/startup)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from bot.chatops.service import ChatOps
from bot.commands.common import Context, UsageError, add_checklist_arg, demo_target, load_context
from bot.locks import build_locks, redis_client
from bot.observability import setup_observability
from bot.server import Health, build_web_app, start_web_app
from checks.masking import mask

log = logging.getLogger("golive.serve")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the Slack bot (Socket Mode, or --http with a signing secret)")
    add_checklist_arg(p)
    p.add_argument("--http", action="store_true", help="receive Slack over HTTP at /slack/events "
                   "(needs SLACK_SIGNING_SECRET) instead of Socket Mode (SLACK_APP_TOKEN)")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default: $GOLIVE_HTTP_PORT, 3000)")
    p.add_argument("--host", default=None, help="bind address (default: $GOLIVE_HTTP_HOST, 0.0.0.0)")
    p.set_defaults(func=main)


class MaskingFilter(logging.Filter):
    """Last line of defence: no log record leaves the process with a token, secret or DSN in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")


def check_credentials(ctx: Context, http: bool) -> None:
    s = ctx.settings
    if not s.secret("slack_bot_token"):
        raise UsageError("SLACK_BOT_TOKEN is not set (the xoxb- token from OAuth & Permissions)")
    if http and not s.secret("slack_signing_secret"):
        raise UsageError("--http needs SLACK_SIGNING_SECRET (Basic Information → Signing Secret)")
    if not http and not s.secret("slack_app_token"):
        raise UsageError("Socket Mode needs SLACK_APP_TOKEN (an xapp- app-level token with connections:write); "
                         "or run with --http")


async def serve(ctx: Context, *, http: bool, host: str, port: int, stop: asyncio.Event | None = None) -> None:
    from bot.slack.http import slack_routes
    from bot.slack.runtime import SlackStartupError, build_slack_bot
    from bot.teams import teams_enabled

    settings = ctx.settings
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    store = ctx.store()
    redis_url = settings.secret("redis_url")
    locks = build_locks(redis_url, settings.redis_prefix)
    health_redis = redis_client(redis_url) if redis_url else None
    chatops = ChatOps(store, ctx.checklist, locks=locks, concurrency=settings.concurrency)
    bot = build_slack_bot(settings, chatops)
    health = Health(store, health_redis)
    routes = [slack_routes(bot.app)] if http else []
    teams = None
    if teams_enabled(settings):  # Teams alongside Slack: same ChatOps, same store, its own endpoint
        from bot.teams.app import TeamsConfigError, build_teams, teams_routes

        try:
            teams = build_teams(settings, chatops)
        except TeamsConfigError as exc:
            raise UsageError(str(exc)) from None
        routes.append(teams_routes(teams))
    web_app = build_web_app(health, *routes)
    runner, bound = await start_web_app(web_app, host, port)
    socket_handler = None
    watchdog = None
    try:
        try:
            await bot.start()
        except SlackStartupError as exc:
            raise UsageError(str(exc)) from None
        if teams is not None:
            await teams.bot.start()  # repaint Teams run cards a dead process left behind
        health.started = True
        if teams is not None:
            print(f"golive: Teams endpoint on http://{host}:{bound}/api/messages", file=sys.stderr, flush=True)
        if http:
            print(f"golive: Slack endpoint on http://{host}:{bound}/slack/events, health on /healthz/*",
                  file=sys.stderr, flush=True)
        else:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(bot.app, settings.secret("slack_app_token"),
                                                    web_client=bot.deps.client)
            await socket_handler.connect_async()
            from bot.degrade import SocketModeWatchdog

            watchdog = SocketModeWatchdog(socket_handler.client)  # a silent socket is reconnected, and unready
            watchdog.start()
            health.probes["slack_socket"] = watchdog.check
            print(f"golive: connected to Slack in Socket Mode; health on http://{host}:{bound}/healthz/*",
                  file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        health.started = False
        if watchdog is not None:
            await watchdog.stop()
        if socket_handler is not None:
            with contextlib.suppress(Exception):
                await socket_handler.close_async()
        await bot.stop()
        if teams is not None:
            await teams.bot.stop()
        await runner.cleanup()
        await locks.close()
        if health_redis is not None:
            with contextlib.suppress(Exception):
                await health_redis.aclose()
        store.close()


def main(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    setup_observability(ctx.settings)  # JSON or text logs, masked; Sentry when GOLIVE_SENTRY_DSN is set
    check_credentials(ctx, args.http)
    host = args.host or ctx.settings.http_host
    port = args.port if args.port is not None else ctx.settings.http_port
    with demo_target(ctx):
        asyncio.run(serve(ctx, http=args.http, host=host, port=port))
    return 0
