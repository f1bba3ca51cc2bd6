"""What `golive doctor` says about the rollout's flag provider: one line naming it and where the flags
live, with the outcome of a read-only probe of the real thing (the dotenv file is readable, Redis answers
PING and the hash/keys read, the flag service's read answers, Unleash and LaunchDarkly accept the token
and know the project and environment). A failure is one line with the fix. Nothing is ever written:
the doctor may run against production at any time."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.diagnostics.doctor_report import Finding
from bot.rollout.providers import FlagProvider, ProviderError, build_provider
from checks.masking import mask
from checks.spec import Rollout

ITEM = "flag provider"


class ProbeFailed(Exception):
    """A probe's failure: what it found (safe to show) and the one thing to do about it."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


def planned_flags(rollout: Rollout | None) -> list[str]:
    """Every flag a phase sets, in the order the phases name them."""
    names: dict[str, None] = {}
    for phase in rollout.phases if rollout is not None else []:
        names.update(dict.fromkeys(phase.flags))
    return list(names)


def _found(names: Sequence[str]) -> str:
    return f"{len(names)} planned flag{'' if len(names) == 1 else 's'} found"


def _count(values: Mapping[str, str | None], names: Sequence[str]) -> str:
    unset = [n for n in names if values.get(n) is None]
    text = f"{len(names) - len(unset)} of {len(names)} planned flags set"
    return text + (f" ({', '.join(unset[:3])}{' …' if len(unset) > 3 else ''} unset: the first promotion "
                   "sets them)" if unset else "")


async def provider_findings(config: Mapping[str, Any], *, workdir: Path, env: Mapping[str, str],
                            rollout: Rollout | None) -> list[Finding]:
    """One line: the provider as configured, and what a read-only look at it found."""
    kind = str(config.get("kind", "dotenv"))
    item = f"{ITEM} ({kind})"
    try:
        provider = build_provider(config, workdir=workdir, env=env, rollout=rollout, read_only=True)
    except ProviderError as exc:
        return [Finding.fail(item, mask(str(exc)), "fix rollout.provider in the checklist as it says "
                             "(promote and the watch refuse to start with exit 2 until then)")]
    try:
        found = await probe(provider, planned_flags(rollout))
    except ProbeFailed as exc:
        return [Finding.fail(item, f"{provider.description}: {mask(exc.detail)}", exc.fix)]
    except ProviderError as exc:
        text = mask(str(exc))
        detail = text if text.startswith(provider.description) else f"{provider.description}: {text}"
        fix = _fix_for(kind)
        if kind in ("unleash", "launchdarkly") and "): " in detail:  # their lines end with the fix already
            detail, fix = detail.rsplit("): ", 1)
            detail += ")"
        return [Finding.fail(item, detail, fix)]
    finally:
        await provider.close()
    return [Finding.ok(item, f"{provider.description}: {found}")]


def _fix_for(kind: str) -> str:
    return {"dotenv": "fix rollout.provider.path (relative to the checklist) or the file's permissions",
            "redis": "check rollout.provider.url (host, port, password, database) and that Redis is up",
            "http": "check rollout.provider.url, headers and read_path, and that the flag service is up",
            "unleash": "check rollout.provider.url and UNLEASH_API_TOKEN (or UNLEASH_API_TOKEN_FILE)",
            "launchdarkly": "check rollout.provider.url and LAUNCHDARKLY_API_TOKEN (or LAUNCHDARKLY_API_TOKEN_FILE)",
            }.get(kind, "fix rollout.provider")


async def probe(provider: FlagProvider, names: Sequence[str]) -> str:
    """What a read-only look at the provider found; ProbeFailed or ProviderError when it is not usable."""
    from bot.rollout.providers.dotenv import DotenvProvider
    from bot.rollout.providers.http import HttpProvider
    from bot.rollout.providers.launchdarkly import LaunchDarklyProvider
    from bot.rollout.providers.redis import RedisProvider
    from bot.rollout.providers.unleash import UnleashProvider

    if isinstance(provider, DotenvProvider):
        return await _dotenv(provider, names)
    if isinstance(provider, RedisProvider):
        return await _redis(provider, names)
    if isinstance(provider, UnleashProvider):
        return await _unleash(provider, names)
    if isinstance(provider, LaunchDarklyProvider):
        return await _launchdarkly(provider, names)
    if isinstance(provider, HttpProvider):
        values = await provider.read(names)
        return f"GET answers; {_count(values, names)}"
    return f"read {len(await provider.read(names))} flags"


async def _dotenv(provider: Any, names: Sequence[str]) -> str:
    path: Path = provider._target()
    if not path.exists():
        raise ProbeFailed("the file does not exist", "create it (the service loads its settings from it) or fix "
                          "rollout.provider.path (relative to the checklist)")
    values = await provider.read(names)
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    if not writable:
        raise ProbeFailed(f"readable ({_count(values, names)}) but not writable by this user (a promotion "
                          "replaces it in its directory)", f"let golive's user write {path} and {path.parent}")
    return f"readable and writable; {_count(values, names)}"


async def _redis(provider: Any, names: Sequence[str]) -> str:
    await provider._call(provider.client.ping())
    config = provider.config
    if config.hash:
        kind = await provider._call(provider.client.type(config.hash))
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if kind not in ("hash", "none"):
            raise ProbeFailed(f"key {config.hash} holds a {kind}, not a hash",
                              "point rollout.provider.hash at the hash the service reads its flags from "
                              "(or use prefix: for a key per flag)")
    values = await provider.read(names)
    return f"answers PING; {_count(values, names)}"


async def _unleash(provider: Any, names: Sequence[str]) -> str:
    config = provider.config
    _, body = await provider.api.send("GET", "/api/admin/projects", provider._explain)
    projects = [str(p.get("id")) for p in (body or {}).get("projects", []) if isinstance(p, Mapping)] \
        if isinstance(body, Mapping) else []
    if config.project not in projects:
        raise ProbeFailed(f"the token is accepted, but there is no project {config.project!r} (projects: "
                          f"{', '.join(projects[:10]) or 'none visible to this token'})",
                          "set rollout.provider.project to the project's id")
    try:
        await provider.api.send("GET", f"/api/admin/environments/{quote(config.environment, safe='')}",
                                provider._explain)
    except ProviderError as exc:
        if "(404)" not in str(exc):
            raise
        raise ProbeFailed(f"the token is accepted, but there is no environment {config.environment!r}",
                          "set rollout.provider.environment to an environment of Unleash (Configure → "
                          "Environments)") from None
    await _flags_exist(provider, names, "create it in Unleash (project "
                       f"{config.project}) before the first promotion")
    return f"token accepted, project and environment exist; {_found(names)}"


async def _launchdarkly(provider: Any, names: Sequence[str]) -> str:
    config = provider.config
    path = f"/api/v2/projects/{quote(config.project, safe='')}/environments/{quote(config.environment, safe='')}"
    try:
        await provider.api.send("GET", path, provider._explain)
    except ProviderError as exc:
        if "(404)" not in str(exc):
            raise
        raise ProbeFailed(f"the token is accepted, but project {config.project!r} has no environment "
                          f"{config.environment!r}", "set rollout.provider.project and environment to the keys "
                          "LaunchDarkly shows (Account settings → Projects)") from None
    await _flags_exist(provider, names, f"create it in project {config.project} before the first promotion")
    return f"token and environment key accepted; {_found(names)}"


async def _flags_exist(provider: Any, names: Sequence[str], create: str) -> None:
    for name in names:
        try:
            await provider.read([name])
        except ProviderError as exc:
            if "(404)" in str(exc) or "not found" in str(exc):
                raise ProbeFailed(f"flag {name} does not exist", create) from None
            raise


__all__ = ["ITEM", "ProbeFailed", "planned_flags", "probe", "provider_findings"]
