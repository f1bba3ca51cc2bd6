"""`golive serve`: the chat bot, every transport the registry has and the settings enable (Slack: Socket
Mode by default, or `--http --port N` behind a public URL; Teams on /api/messages). Either way one aiohttp
server on --port answers the health probes (/healthz/live, /healthz/ready, /healthz/startup)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import socket
from typing import TYPE_CHECKING, Any

from bot.announcements.events import Event, FanoutNotifier
from bot.chatops.service import ChatOps
from bot.commands.common import (
    Context,
    UsageError,
    add_checklist_arg,
    demo_target,
    load_context,
    require_audit_key,
)
from bot.conversation import registry
from bot.conversation.registry import ServeEnv, Serving, TransportConfigError
from bot.coordination.locks import build_locks, redis_client
from bot.diagnostics.observability import setup_observability
from bot.rollout.notify import run_reporter
from bot.runs.runner import make_runner
from bot.services.desk import Desk, serving
from bot.services.loading import service_checklist
from bot.services.registry import Registry, RegistryError, Service, single
from bot.serving.server import Health, build_web_app, start_web_app
from bot.serving.startup import defer_again, reached, reached_async, stop_requested
from bot.store import StoreUnavailable
from checks.spec import Checklist

if TYPE_CHECKING:
    from bot.slack.socket_mode import SocketTiming

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


def check_credentials(ctx: Context, http: bool) -> None:
    """At least one transport of the registry, each with the credentials its mode needs."""
    chosen = registry.enabled(ctx.settings)
    if not chosen:
        hints = ", and/or ".join(t.hint for t in registry.available())
        raise UsageError(f"nothing to serve: set {hints}")
    for transport in chosen:
        try:
            transport.check(ctx.settings, http=http)
        except TransportConfigError as exc:
            raise UsageError(str(exc)) from None


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
    """Open everything inside one exit stack, so whatever was opened is closed (in reverse), however far
    start-up got; every chat transport comes from the registry (bot.conversation.registry)."""
    async with contextlib.AsyncExitStack() as stack:
        store = open_store(ctx, stack)
        if await reached_async("store", stop):  # stopped while starting
            return
        settings = ctx.settings
        locks, health = await open_locks_and_health(settings, store, stack)
        desk = build_desk(ctx, service_registry(ctx), store, locks)
        pacers = transport_pacers(settings)  # one per transport: runs, answers and announcements pace together
        for service, ops in desk.each():  # one rollout runtime per service with a rollout plan
            runtime = await start_rollout(ctx, ops.store, ops, pacers,
                                          service=service if desk.several else None)
            if runtime is not None:
                desk.rollouts[service.name] = runtime
                stack.push_async_callback(runtime.close)
        rollout = desk.rollouts.get(desk.registry.default.name)
        served = build_transports(ctx, desk, health, pacers, rollout, stack, http=http,
                                  options={"socket_timing": socket_timing})
        bound = await listen(stack, health, served, settings, store, ctx, host, port,
                             pick=desk.view_of if desk.several else None)
        if await reached_async("listening", stop):  # stopped while starting
            return
        await start_transports(served)
        for runtime in desk.rollouts.values():  # each service's watch and scheduled runs, on the lease holder
            supervisor = runtime.supervisor(on_run=run_reporter(runtime.notifier))
            stack.push_async_callback(supervisor.stop)
            await supervisor.start()
        for each in served:
            log.info("%s", each.where(host, bound))
        if not any(each.ready_later for each in served):  # else the transport says when (Slack's hello)
            health.started = True
        stack.callback(setattr, health, "started", False)
        keeper_stop = asyncio.Event()
        stack.push_async_callback(stop_keeper, start_keeper(ctx, store, rollout, pacers, keeper_stop, desk),
                                  keeper_stop)
        running.set()
        await _until_stopped(stop, served)


def open_store(ctx: Context, stack: contextlib.AsyncExitStack) -> Any:
    try:
        store = ctx.store()
    except StoreUnavailable as exc:  # at start-up it is the configuration to fix: nothing was running yet
        raise UsageError(f"cannot start: {exc}") from None
    stack.callback(store.close)
    require_audit_key(store)  # every replica signs with the same key; a missing one is exit 2 at start
    return store


async def open_locks_and_health(settings: Any, store: Any, stack: contextlib.AsyncExitStack) -> tuple[Any, Health]:
    redis_url = settings.secret("redis_url")
    locks = build_locks(redis_url, settings.redis_prefix)
    stack.push_async_callback(locks.close)
    health_redis = redis_client(redis_url) if redis_url else None
    if health_redis is not None:
        stack.push_async_callback(_close_quietly, health_redis)
    health = Health(store, health_redis)
    if hasattr(locks, "check"):  # readiness reports the lock layer's own state, not only a Redis ping
        health.probes["locks"] = locks.check
    return locks, health


async def _close_quietly(client: Any) -> None:
    with contextlib.suppress(Exception):
        await client.aclose()


def service_registry(ctx: Context) -> Registry:
    """The services this bot serves: the registry loaded at start (GOLIVE_SERVICES), else a registry of one
    (GOLIVE_CHECKLIST, or the bundled demo), which is today's bot unchanged."""
    return getattr(ctx, "registry", None) or single(ctx.settings.checklist_path())


def build_desk(ctx: Context, services: Registry, store: Any, locks: Any) -> Desk:
    """One ChatOps per service over its scoped store and locks, running checks with the bot's runner."""
    concurrency = ctx.settings.concurrency

    def checklist(service: Service) -> Checklist:
        if len(services) == 1:  # today's bot: the checklist `golive serve` already loaded (and the demo set up)
            return ctx.checklist
        if service.checklist is not None:  # loaded and validated with the registry at start (roles applied)
            return service.checklist
        try:  # a registry built in code, not by load_registry: checked the same way now
            return service_checklist(service.name, service.checklist_path,
                                     service.roles if service.roles is not None else ctx.settings.roles)
        except RegistryError as exc:
            raise UsageError(str(exc)) from None

    def make(service_store: Any, service_checklist: Checklist, service_locks: Any) -> ChatOps:
        return ChatOps(service_store, service_checklist, locks=service_locks, concurrency=concurrency,
                       runner_factory=lambda: make_runner(service_checklist, service_store, concurrency=concurrency))

    return Desk.build(services, store, locks, checklist=checklist, make=make)


def build_transports(ctx: Context, desk: Desk, health: Health, pacers: dict[str, Any], rollout: Any,
                     stack: contextlib.AsyncExitStack, *, http: bool, options: dict[str, Any]) -> list[Serving]:
    """Every enabled transport over the desk (one engine per service, one store), each stopped on the way out;
    `rollout` is the default service's runtime (the others answer through their own ChatOps)."""
    served: list[Serving] = []
    chatops = desk.default
    for transport in registry.enabled(ctx.settings):
        env = ServeEnv(settings=ctx.settings, store=chatops.store, chatops=chatops, health=health,
                       pacer=pacers.get(transport.name), rollout_hook=rollout.service.action_hook if rollout else None,
                       http=http, options=options, desk=desk)
        try:
            each = transport.build(env)
        except TransportConfigError as exc:
            raise UsageError(str(exc)) from None
        stack.push_async_callback(each.stop)
        served.append(each)
    return served


async def listen(stack: contextlib.AsyncExitStack, health: Health, served: list[Serving], settings: Any, store: Any,
                 ctx: Context, host: str, port: int, pick: Any = None) -> int:
    """The one web server: health, every transport's routes and the read-only web view at /view (each page
    read from its own service's store when there are several: `pick`)."""
    from bot.web.routes import serve_view

    routes = [route for each in served for route in each.routes]
    routes.append(serve_view(settings, store, ctx.checklist, pick))
    try:
        runner, bound = await start_web_app(build_web_app(health, *routes), host, port)
    except OSError as exc:  # includes socket.gaierror: a --host that does not resolve
        raise UsageError(listen_problem(host, port, exc)) from None
    stack.push_async_callback(runner.cleanup)
    return int(bound)


async def start_transports(served: list[Serving]) -> None:
    for each in served:
        try:
            await each.start()
        except TransportConfigError as exc:
            raise UsageError(str(exc)) from None


async def stop_keeper(keeper: asyncio.Task[None], keeper_stop: asyncio.Event) -> None:
    keeper_stop.set()
    with contextlib.suppress(Exception):
        await keeper


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
                 desk: Desk) -> asyncio.Task[None]:
    """Pending break-glass announcements (at once, then every sweep) and the daily audit witness."""
    from datetime import timedelta

    from bot.announcements.notifiers import build_notifier
    from bot.authority.witness import keep_watch

    settings = ctx.settings
    if store.audit_keys.generated:
        log.warning("the audit key is %s, beside the store: move it out and set GOLIVE_AUDIT_KEY_FILE",
                    store.audit_keys.source)
    if not desk.several:  # today's bot: one notifier for the witness and the chat waivers
        notifier = rollout.notifier if rollout is not None else build_notifier(settings, store, terminal=False,
                                                                               pacers=pacers)
        desk.default.notifier = notifier
    else:  # the audit head is the bot's (its channels); each service's waivers are witnessed in its own
        notifier = build_notifier(settings, store, terminal=False, pacers=pacers)
        for service, ops in desk.each():
            runtime = desk.rollouts.get(service.name)
            own = service_settings(settings, service)
            channels = notifier if own is settings else build_notifier(own, store, terminal=False, pacers=pacers)
            ops.notifier = runtime.notifier if runtime is not None else ServiceNotifier(channels.notifiers,
                                                                                        service.name)
    return asyncio.create_task(keep_watch(store, notifier, every=timedelta(hours=settings.witness_hours),
                                          sweep=settings.sweep_seconds, stop=stop))


async def _until_stopped(stop: asyncio.Event, served: list[Serving]) -> None:
    """Until a signal, or until a transport cannot go on (Slack refuses the app token for good: exit 2
    with one line)."""
    ended = [each.ended for each in served if each.ended is not None]
    if not ended:
        await stop.wait()
        return
    waits = {asyncio.create_task(stop.wait()), *(asyncio.create_task(e.wait()) for e in ended)}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    fatal = next((each.fatal for each in served if each.fatal is not None), None)
    if fatal is not None and not stop.is_set():
        raise UsageError(fatal)


def transport_pacers(settings: Any) -> dict[str, Any]:
    return registry.pacers(settings)


async def start_rollout(ctx: Context, store: Any, chatops: ChatOps, pacers: dict[str, Any] | None = None, *,
                        service: Service | None = None) -> Any:
    """The rollout runtime when the service's checklist has a plan: `/golive promote|rollback` and alert buttons
    act through it, announcements and alerts go to every configured channel (Slack, Teams). `service`: one of
    several services (its own release channels when it declares them, and its name on every button drawn)."""
    from bot.announcements.notifiers import build_notifier
    from bot.rollout import RolloutRuntime
    from bot.rollout.chat import install

    checklist = chatops.checklist
    if checklist.rollout is None or not checklist.rollout.phases:
        return None  # ChatOps answers promote/rollback with how to add a rollout plan
    settings = ctx.settings if service is None else service_settings(ctx.settings, service)
    notifier = build_notifier(settings, store, terminal=False, pacers=pacers)
    if service is not None:
        notifier = ServiceNotifier(notifier.notifiers, service.name)
    try:
        runtime = await RolloutRuntime.create(checklist, store, notifier, redis_url=settings.secret("redis_url"),
                                              prefix=settings.redis_prefix)
    except (LookupError, ValueError) as exc:
        where = f"service {service.name!r}: " if service is not None else ""
        raise UsageError(f"{where}rollout: {exc}") from None
    install(chatops, runtime.service)
    return runtime


def main(args: argparse.Namespace) -> int:
    """Every step of start-up checks for a stop signal (bot.serving.startup): a SIGTERM/SIGINT before the server
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


def service_settings(settings: Any, service: Service) -> Any:
    """The settings a service's announcements use: its own release channels when it declares them."""
    update = {}
    if service.channels.slack:
        update["slack_channel"] = service.channels.slack[0]
    if service.channels.teams:
        update["teams_channel"] = service.channels.teams[0]
    return settings.model_copy(update=update) if update else settings


class ServiceNotifier(FanoutNotifier):
    """A service's announcements and alerts, drawn with its name on their buttons (bot.services.desk), so a
    Roll back pressed on service A's alert rolls back A, whichever channel it is pressed in."""

    def __init__(self, notifiers: Any, service: str) -> None:
        super().__init__(notifiers)
        self.service = service

    async def publish(self, event: Event) -> None:
        with serving(self.service):
            await super().publish(event)
