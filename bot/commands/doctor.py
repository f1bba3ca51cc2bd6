"""`golive doctor`: check a configuration without serving. One line per item (checklist, store, Redis,
target, watch sources, flag provider, Slack token/scopes/app token/channel/roles, Teams settings) with the
fix; exit 1 when any item fails, so it can gate a deployment. It only reads: no message is posted, no check is run."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from pathlib import Path

from bot.diagnostics.doctor_report import Finding
from bot.diagnostics.netreason import network_reason
from bot.diagnostics.observability import register_secrets
from bot.settings import Settings, get_settings
from checks.masking import mask
from checks.spec import Checklist


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.commands.common import add_checklist_arg

    p = sub.add_parser("doctor", help="check tokens, scopes, channel, roles, checklist, target, store and Redis")
    add_checklist_arg(p)
    p.add_argument("--http", action="store_true", help="judge the Slack settings for HTTP mode, not Socket Mode")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    findings = asyncio.run(diagnose(args))
    for finding in findings:
        print(finding.line())
    failed = sum(f.level == "FAIL" for f in findings)
    print(f"\n{len(findings)} items: {failed} to fix, {sum(f.level == 'warn' for f in findings)} warnings")
    return 1 if failed else 0


async def diagnose(args: argparse.Namespace) -> list[Finding]:
    settings = get_settings()
    register_secrets(settings)
    services, findings = _services(args, settings)
    findings.append(_store(settings))
    findings.append(_audit_key())
    findings.append(await _redis(settings))
    for prefix, checklist in services:
        if checklist is not None:
            found = [await _target(checklist), *await _watch_sources(checklist), *await _flag_provider(checklist)]
            findings.extend(_prefixed(prefix, found))
    first = services[0][1]
    findings.extend(await _slack(settings, first, http=args.http, prefix=services[0][0]))
    for prefix, checklist in services[1:]:  # the token and channel once; each further service's roles
        if checklist is not None and settings.secret("slack_bot_token"):
            findings.extend(_prefixed(prefix, await _slack_roles(settings, checklist)))
    findings.extend(_teams(settings))
    return findings


def _prefixed(prefix: str, findings: list[Finding]) -> list[Finding]:
    """With several services, each service's lines start with its name."""
    return [dataclasses.replace(f, item=prefix + f.item) for f in findings] if prefix else findings


def _services(args: argparse.Namespace, settings: Settings,
              ) -> tuple[list[tuple[str, Checklist | None]], list[Finding]]:
    """(line prefix, checklist) of each service to check, and their checklist lines. A registry of one reports a
    bad checklist as a finding, as before services; a bad GOLIVE_SERVICES is exit 2 like for every verb."""
    if settings.services is None and not getattr(args, "service", None):
        checklist, findings = _checklist(args, settings)
        return [("", checklist)], findings
    from bot.commands.common import load_every_service

    ctx = load_every_service(args)
    assert ctx.registry is not None and ctx.service is not None
    chosen = [ctx.service] if getattr(args, "service", None) else list(ctx.registry)
    out: list[tuple[str, Checklist | None]] = []
    findings = []
    for service in chosen:
        prefix = f"{service.name}: " if len(chosen) > 1 else ""
        checklist = service.checklist
        assert checklist is not None
        checks = sum(len(p.checks) for p in checklist.phases)
        findings.append(Finding.ok(f"{prefix}checklist", f"{service.checklist_path}: {len(checklist.phases)} "
                                   f"phases, {checks} checks"))
        out.append((prefix, checklist))
    return out, findings


def _checklist(args: argparse.Namespace, settings: Settings) -> tuple[Checklist | None, list[Finding]]:
    from bot.signoff.roles import RoleConfigError, apply_roles
    from checks.loader import ChecklistError, load_checklist

    path = getattr(args, "checklist", None) or settings.checklist_path()
    try:
        checklist = load_checklist(path)
        apply_roles(checklist, settings.roles)
    except (ChecklistError, RoleConfigError) as exc:
        return None, [Finding.fail("checklist", str(exc), "fix the file (or GOLIVE_ROLES) as the message says")]
    checks = sum(len(p.checks) for p in checklist.phases)
    return checklist, [Finding.ok("checklist", f"{path}: {len(checklist.phases)} phases, {checks} checks")]


def _store(settings: Settings) -> Finding:
    from bot.store import StoreUnavailable, open_store

    where = "PostgreSQL (GOLIVE_DATABASE_URL)" if settings.database_url else f"SQLite {settings.sqlite_path()}"
    try:
        store = open_store(settings.secret("database_url"), sqlite_path=settings.sqlite_path())
        try:
            stamp = time.time()
            store.put("doctor:probe", stamp)
            if store.get("doctor:probe") != stamp:
                return Finding.fail("store", f"{where}: a write did not read back", "check the database")
        finally:
            store.close()
    except (StoreUnavailable, OSError) as exc:
        return Finding.fail("store", f"{where}: {mask(str(exc))}",
                            "fix GOLIVE_DATABASE_URL, or make GOLIVE_STATE_DIR writable")
    return Finding.ok("store", f"{where} is writable")


def _audit_key() -> Finding:
    """Where the audit chain's key lives (bot.store.auditkey): outside the database, ideally outside the host."""
    from bot.store.auditkey import AuditKeyError, keys_from_settings

    try:
        keys = keys_from_settings(generate=False)
    except AuditKeyError as exc:
        return Finding.warn("audit key", str(exc), "set GOLIVE_AUDIT_KEY_FILE (golive generates one in the state dir "
                                                   "on first start otherwise)")
    if keys.generated:
        return Finding.warn("audit key", f"{keys.source} was generated beside the store: whoever can read the state "
                            "dir can forge the audit log", "move it out (a secret manager, a file the database owner "
                            "cannot read) and set GOLIVE_AUDIT_KEY_FILE")
    return Finding.ok("audit key", f"from {keys.source}, {len(keys.keys)} key(s), signing with {keys.current_id}")


async def _redis(settings: Settings) -> Finding:
    url = settings.secret("redis_url")
    if not url:
        return Finding.warn("Redis", "GOLIVE_REDIS_URL is not set: locks are per process, one replica only",
                            "set GOLIVE_REDIS_URL to run more than one replica")
    from bot.coordination.locks import redis_client

    client = redis_client(url)
    try:
        await client.ping()
    except Exception as exc:
        return Finding.fail("Redis", network_reason(exc) or mask(str(exc)), "check GOLIVE_REDIS_URL")
    finally:
        await client.aclose()
    return Finding.ok("Redis", "answers PING")


async def _target(checklist: Checklist) -> Finding:
    import httpx

    from checks.interpolate import interpolate
    from checks.target_env import read_target_env

    if checklist.demo:
        return Finding.ok("target", "the bundled demo service (started with each run)")
    try:
        workdir = Path(checklist.source_path).parent if checklist.source_path else Path.cwd()
        env = await read_target_env(checklist, workdir)
        base = interpolate(checklist.target.base_url, env) if checklist.target.base_url else ""
    except Exception as exc:
        return Finding.fail("target", f"cannot read the target's settings: {mask(str(exc))}",
                            "fix settings: in the checklist")
    if not base:
        return Finding.warn("target", "the checklist has no target.base_url", "set target.base_url")
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(base)
    except httpx.HTTPError as exc:
        return Finding.fail("target", f"{mask(base)}: {network_reason(exc) or type(exc).__name__}",
                            "is the service up, and is target.base_url right?")
    return Finding.ok("target", f"{mask(base)} answers ({response.status_code})")


async def _watch_sources(checklist: Checklist) -> list[Finding]:
    """The rollout watch's metrics sources and the rules each can evaluate (bot.rollout.sources)."""
    if checklist.rollout is None or not checklist.rollout.phases:
        return []
    from bot.rollout.models import watch_config
    from bot.rollout.sources import ITEM, watch_source_findings
    from checks.interpolate import interpolate
    from checks.target_env import read_target_env

    try:
        config = watch_config(checklist)
        if checklist.demo:  # the demo target runs only during a run: what the configuration says, no sample
            return await watch_source_findings(config, None)
        workdir = Path(checklist.source_path).parent if checklist.source_path else Path.cwd()
        env = await read_target_env(checklist, workdir)
        base = str(interpolate(checklist.target.base_url, env))
    except Exception as exc:
        return [Finding.fail(ITEM, mask(str(exc)), "fix rollout.watch (or the target's settings) as it says")]
    return await watch_source_findings(config, base, env)


async def _flag_provider(checklist: Checklist) -> list[Finding]:
    """The rollout's flag provider, validated as promote loads it, then probed read-only
    (bot.rollout.providers.probe)."""
    if checklist.rollout is None or not checklist.rollout.phases:
        return []
    from bot.rollout.providers.probe import ITEM, provider_findings
    from checks.target_env import read_target_env

    workdir = Path(checklist.source_path).resolve().parent if checklist.source_path else Path.cwd()
    try:
        env = await read_target_env(checklist, workdir)
    except Exception as exc:
        return [Finding.fail(ITEM, f"cannot read the target's settings: {mask(str(exc))}",
                             "fix settings: in the checklist")]
    return await provider_findings(checklist.rollout.provider, workdir=workdir, env=env, rollout=checklist.rollout)


async def _slack_roles(settings: Settings, checklist: Checklist) -> list[Finding]:
    """Whether every sign-off role of one more service resolves to real Slack users."""
    from bot.slack.client import client_from_settings
    from bot.slack.doctor import _roles  # the roles part of slack_findings, without its token checks again

    return await _roles(client_from_settings(settings), checklist)


async def _slack(settings: Settings, checklist: Checklist | None, *, http: bool, prefix: str = "") -> list[Finding]:
    token = settings.secret("slack_bot_token")
    if not token:
        return [Finding.ok("Slack", "not configured (SLACK_BOT_TOKEN unset)")]
    from bot.slack.client import client_from_settings
    from bot.slack.doctor import slack_findings

    out = []
    if http and not settings.secret("slack_signing_secret"):
        out.append(Finding.fail("Slack signing secret", "SLACK_SIGNING_SECRET is not set (HTTP mode needs it)",
                                "Basic Information → App Credentials → Signing Secret"))
    if checklist is None:
        return out
    found = await slack_findings(client_from_settings(settings), app_token=settings.secret("slack_app_token"),
                                 channel=settings.slack_channel, checklist=checklist, socket_mode=not http)
    return out + [f if not f.item.startswith("role ") else dataclasses.replace(f, item=prefix + f.item) for f in found]


def _teams(settings: Settings) -> list[Finding]:
    if not settings.teams_app_id:
        return [Finding.ok("Teams", "not configured (TEAMS_APP_ID unset)")]
    from bot.teams.manifest import _GUID

    out = []
    if not _GUID.match(settings.teams_app_id):
        out.append(Finding.fail("Teams app id", f"{settings.teams_app_id!r} is not a GUID",
                                "TEAMS_APP_ID is the Entra app registration's Application (client) ID"))
    if not settings.secret("teams_app_password"):
        out.append(Finding.fail("Teams app password", "TEAMS_APP_PASSWORD is not set",
                                "Entra → App registrations → Certificates & secrets → New client secret"))
    if not settings.teams_channel:
        out.append(Finding.warn("Teams channel", "TEAMS_CHANNEL is not set: announcements and alerts go nowhere",
                                "set TEAMS_CHANNEL to the channel's conversation id (19:…@thread.tacv2)"))
    return out or [Finding.ok("Teams", "app id, password and channel are set")]
