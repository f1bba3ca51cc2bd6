"""`golive serve`: the Slack bot. Socket Mode by default (app-level token, no public URL needed), or
`--http --port N` behind a public URL (signing secret). Either way one aiohttp server on --port
answers the health probes (/healthz/live, /healthz/ready, /healthz/startup)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import socket
from typing import TYPE_CHECKING, Any

from bot.chatops.service import ChatOps
from bot.commands.common import (
    Context,
    UsageError,
    add_checklist_arg,
    demo_target,
    load_context,
    require_audit_key,
)
from bot.locks import build_locks, redis_client
from bot.observability import setup_observability
from bot.rollout.notify import run_reporter
from bot.runs.runner import make_runner
from bot.server import Health, build_web_app, start_web_app
from bot.startup import defer_again, reached, reached_async, stop_requested
from bot.store import StoreUnavailable

if TYPE_CHECKING:
    from bot.slack.socket_mode import SocketModeConnection, SocketTiming

log = logging.getLogger("golive.serve")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the Slack bot (Socket Mode, or --http with a signing secret)")
    add_checklist_arg(p)
    p.add_argument("--http", action="store_true", help="receive Slack over HTTP at /slack/events "
                   "(needs SLACK_SIGNING_SECRET) instead of Socket Mode (SLACK_APP_TOKEN)")
    p.add_argument("--port", type=int, default=None,  # its range is checked with the setting, in `main`
                   help="HTTP port (default: $GOLIVE_HTTP_PORT, 3000)")
    p.add_argument("--host", default=None, help="bind address (default: $GOLIVE_HTTP_HOST, 0.0.0.0)")
    p.set_defaults(func=main)


def slack_enabled(ctx: Context) -> bool:
    return bool(ctx.settings.secret("slack_bot_token"))


def check_credentials(ctx: Context, http: bool) -> None:
    """At least one transport; for Slack, the credentials its mode needs. A Teams-only bot needs no Slack."""
    from bot.teams import teams_enabled

    s = ctx.settings
    if not slack_enabled(ctx):
        if teams_enabled(s):
            return
        raise UsageError("nothing to serve: set SLACK_BOT_TOKEN (the xoxb- token from OAuth & Permissions) for "
                         "Slack, and/or TEAMS_APP_ID for Microsoft Teams")
    if http and not s.secret("slack_signing_secret"):
        raise UsageError("--http needs SLACK_SIGNING_SECRET (Basic Information → Signing Secret)")
    if not http and not s.secret("slack_app_token"):
        raise UsageError("Socket Mode needs SLACK_APP_TOKEN (an xapp- app-level token with connections:write); "
                         "or run with --http")


async def serve(ctx: Context, *, http: bool, host: str, port: int, stop: asyncio.Event | None = None,
                socket_timing: SocketTiming | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or `stop`). A signal during start-up (a hung auth.test, a store that
    does not answer) cancels the start-up; once running, the stop is orderly. Either way the clean-up
    below runs: runs in flight are marked interrupted, as a restart would."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if stop_requested():  # a signal before the loop's handlers were in place
        stop.set()
    running = asyncio.Event()
    task = asyncio.create_task(_serve(ctx, http=http, host=host, port=port, stop=stop, running=running,
                                      socket_timing=socket_timing))
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done() and not running.is_set():
            task.cancel()  # still starting: stop now, not after start-up (its finally cleans up)
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not stop.is_set() or (current is not None and current.cancelling()):
                raise
    finally:
        stopped.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        defer_again()  # the loop restored the defaults: a second signal must not cut the shutdown short


async def _serve(ctx: Context, *, http: bool, host: str, port: int, stop: asyncio.Event, running: asyncio.Event,
                 socket_timing: SocketTiming | None = None) -> None:
    from bot.slack.http import slack_routes
    from bot.slack.runtime import SlackStartupError, build_slack_bot
    from bot.teams import teams_enabled

    settings = ctx.settings
    try:
        store = ctx.store()
    except StoreUnavailable as exc:  # at start-up it is the configuration to fix: nothing was running yet
        raise UsageError(f"cannot start: {exc}") from None
    try:
        require_audit_key(store)  # every replica signs with the same key; a missing one is exit 2 at start
    except UsageError:
        store.close()
        raise
    # opened one by one below; the `finally` closes what was, however far start-up got
    locks: Any = None
    health_redis: Any = None
    rollout: Any = None
    bot: Any = None
    teams: Any = None
    socket_mode: SocketModeConnection | None = None
    runner: Any = None
    supervisor: Any = None
    health: Health | None = None
    keeper: asyncio.Task[None] | None = None
    keeper_stop = asyncio.Event()
    try:
        if await reached_async("store", stop):  # stopped while starting
            return
        redis_url = settings.secret("redis_url")
        locks = build_locks(redis_url, settings.redis_prefix)
        health_redis = redis_client(redis_url) if redis_url else None
        chatops = ChatOps(store, ctx.checklist, locks=locks, concurrency=settings.concurrency,
                          runner_factory=lambda: make_runner(ctx.checklist, store, concurrency=settings.concurrency))
        pacers = transport_pacers(settings)  # one per transport: runs, answers and announcements pace together
        rollout = await start_rollout(ctx, store, chatops, pacers)
        rollout_hook = rollout.service.action_hook if rollout else None
        bot = build_slack_bot(settings, chatops, on_rollout_action=rollout_hook, pacer=pacers.get("slack")) \
            if slack_enabled(ctx) else None
        health = Health(store, health_redis)
        if hasattr(locks, "check"):  # readiness reports the lock layer's own state, not only a Redis ping
            health.probes["locks"] = locks.check
        routes = [slack_routes(bot.app)] if bot is not None and http else []
        if teams_enabled(settings):  # Teams alongside Slack: same ChatOps, same store, its own endpoint
            from bot.teams.app import TeamsConfigError, build_teams, teams_routes

            try:
                teams = build_teams(settings, chatops, rollout_hook=rollout_hook, pacer=pacers.get("teams"))
            except TeamsConfigError as exc:
                raise UsageError(str(exc)) from None
            routes.append(teams_routes(teams))
        from bot.web.routes import serve_view

        routes.append(serve_view(settings, store, ctx.checklist))  # the read-only web view at /view
        web_app = build_web_app(health, *routes)
        if bot is not None and not http:  # its probe is in place before the first answer: not ready until hello
            from bot.slack.socket_mode import SocketModeConnection

            started_health = health
            socket_mode = SocketModeConnection(bot.app, settings.secret("slack_app_token") or "", bot.deps.client,
                                               timing=socket_timing, on_connected=lambda: _started(started_health))
            health.probes["slack_socket"] = socket_mode.check
            health.startup_reason = socket_mode.startup_reason
        try:
            runner, bound = await start_web_app(web_app, host, port)
        except OSError as exc:  # includes socket.gaierror: a --host that does not resolve
            raise UsageError(listen_problem(host, port, exc)) from None
        if await reached_async("listening", stop):  # stopped while starting
            return
        try:
            if bot is not None:
                bot.sweep_interval = settings.sweep_seconds
                await bot.start()
        except SlackStartupError as exc:
            raise UsageError(str(exc)) from None
        if teams is not None:
            # repaint Teams run cards a dead process left behind
            await teams.bot.start(sweep_interval=settings.sweep_seconds)
        if rollout is not None:  # the watch and scheduled runs, on whichever replica holds the lease
            supervisor = rollout.supervisor(on_run=run_reporter(rollout.notifier))
            await supervisor.start()
        if teams is not None:
            log.info("Teams endpoint on http://%s:%s/api/messages", host, bound)
        if bot is None:
            log.info("Slack is not configured (no SLACK_BOT_TOKEN): serving Teams only")
        elif http:
            log.info("Slack endpoint on http://%s:%s/slack/events, health on /healthz/*", host, bound)
        elif socket_mode is not None:  # started (and ready) once Slack says hello; it alone reconnects
            socket_mode.start()
            log.info("connecting to Slack in Socket Mode; health on http://%s:%s/healthz/*", host, bound)
        if socket_mode is None:
            health.started = True
        keeper = start_keeper(ctx, store, rollout, pacers, keeper_stop, chatops)
        running.set()
        await _until_stopped(stop, socket_mode)
    finally:  # also after a failed or cancelled start-up: whatever was opened is closed
        keeper_stop.set()
        if keeper is not None:
            with contextlib.suppress(Exception):
                await keeper
        if health is not None:
            health.started = False
        if socket_mode is not None:
            await socket_mode.close()
        if supervisor is not None:
            await supervisor.stop()
        if rollout is not None:
            await rollout.close()
        if bot is not None:
            await bot.stop()
        if teams is not None:
            await teams.bot.stop()
        if runner is not None:
            await runner.cleanup()
        if locks is not None:
            await locks.close()
        if health_redis is not None:
            with contextlib.suppress(Exception):
                await health_redis.aclose()
        store.close()


def listen_problem(host: str, port: int, exc: OSError) -> str:
    """One line for a server that cannot listen: which address, why, and the setting that fixes it."""
    where = f"cannot listen on {host}:{port}"
    if isinstance(exc, socket.gaierror):
        return (f"{where}: --host {host} is not a name or address this machine resolves; use one of its own "
                "addresses, e.g. 0.0.0.0 (every interface) or 127.0.0.1 (--host or GOLIVE_HTTP_HOST)")
    if exc.errno == errno.EADDRINUSE:
        return (f"{where}: the port is already in use (another golive serve, or another program); stop it, or "
                "choose a free port with --port or GOLIVE_HTTP_PORT")
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"{where}: {host} is not an address of this machine; use one of its own addresses, e.g. "
                "0.0.0.0 (every interface) or 127.0.0.1 (--host or GOLIVE_HTTP_HOST)")
    if exc.errno == errno.EACCES:
        return (f"{where}: permission denied (ports below 1024 need privileges); choose a port from 1024 up "
                "with --port or GOLIVE_HTTP_PORT")
    return f"{where}: {exc.strerror or exc}; check --host and --port (GOLIVE_HTTP_HOST, GOLIVE_HTTP_PORT)"


def start_keeper(ctx: Context, store: Any, rollout: Any, pacers: dict[str, Any], stop: asyncio.Event,
                 chatops: ChatOps) -> asyncio.Task[None]:
    """Pending break-glass announcements (at once, then every sweep) and the daily audit witness."""
    from datetime import timedelta

    from bot.notifiers import build_notifier
    from bot.witness import keep_watch

    settings = ctx.settings
    if store.audit_keys.generated:
        log.warning("the audit key is %s, beside the store: move it out and set GOLIVE_AUDIT_KEY_FILE",
                    store.audit_keys.source)
    notifier = rollout.notifier if rollout is not None else build_notifier(settings, store, terminal=False,
                                                                           pacers=pacers)
    chatops.notifier = notifier  # chat waivers witness the audit head in the release channel(s) too
    return asyncio.create_task(keep_watch(store, notifier, every=timedelta(hours=settings.witness_hours),
                                          sweep=settings.sweep_seconds, stop=stop))


def _started(health: Any) -> None:
    health.started = True


async def _until_stopped(stop: asyncio.Event, socket_mode: SocketModeConnection | None) -> None:
    """Until a signal, or until Slack refuses the app token for good (exit 2 with one line)."""
    if socket_mode is None:
        await stop.wait()
        return
    waits = {asyncio.create_task(stop.wait()), asyncio.create_task(socket_mode.ended.wait())}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    if socket_mode.fatal is not None and not stop.is_set():
        raise UsageError(str(socket_mode.fatal))


def transport_pacers(settings: Any) -> dict[str, Any]:
    from bot.conversation.pacing import SLACK_PACING, TEAMS_PACING, pacer_for

    return {name: pacer_for(default, interval=settings.post_interval, burst=settings.post_burst)
            for name, default in (("slack", SLACK_PACING), ("teams", TEAMS_PACING))}


async def start_rollout(ctx: Context, store: Any, chatops: ChatOps, pacers: dict[str, Any] | None = None) -> Any:
    """The rollout runtime when the checklist has a plan: `/golive promote|rollback` and alert buttons
    act through it, announcements and alerts go to every configured channel (Slack, Teams)."""
    from bot.notifiers import build_notifier
    from bot.rollout import RolloutRuntime
    from bot.rollout.chat import install

    if ctx.checklist.rollout is None or not ctx.checklist.rollout.phases:
        return None  # ChatOps answers promote/rollback with how to add a rollout plan
    settings = ctx.settings
    notifier = build_notifier(settings, store, terminal=False, pacers=pacers)
    try:
        runtime = await RolloutRuntime.create(ctx.checklist, store, notifier, redis_url=settings.secret("redis_url"),
                                              prefix=settings.redis_prefix)
    except (LookupError, ValueError) as exc:
        raise UsageError(f"rollout: {exc}") from None
    install(chatops, runtime.service)
    return runtime


def main(args: argparse.Namespace) -> int:
    """Every step of start-up checks for a stop signal (bot.startup): a SIGTERM/SIGINT before the server
    runs is exit 0 with nothing printed, as it is once it runs."""
    reached("parsed")
    if stop_requested():
        return 0
    ctx = load_context(args)
    setup_observability(ctx.settings)  # JSON or text logs, masked; Sentry when GOLIVE_SENTRY_DSN is set
    host = args.host or ctx.settings.http_host
    port = args.port if args.port is not None else ctx.settings.http_port
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a port: choose one from 1024 to 65535 (or 0 for any free port)")
    check_credentials(ctx, args.http)
    reached("configured")
    if stop_requested():
        return 0
    with demo_target(ctx):
        reached("demo")
        if not stop_requested():
            asyncio.run(serve(ctx, http=args.http, host=host, port=port))
    return 0
