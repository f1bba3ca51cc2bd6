"""Flag providers: where a rollout's feature flags live (a dotenv file, Redis, a flag service).

One small interface so promote/rollback and the `flags` check never care which one is configured:
`read(names)` returns the values as text (None when unset), `write(values)` sets them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from checks.interpolate import MissingVariable, interpolate
from checks.kinds.flags import normalise_flag
from checks.masking import masker
from checks.registry import FlagReader


class ProviderError(RuntimeError):
    """A flag provider could not read or write; the message is safe to show (secrets masked)."""


class FlagProvider(Protocol):
    description: str

    async def read(self, names: Sequence[str]) -> dict[str, str | None]: ...

    async def write(self, values: Mapping[str, bool | str]) -> None: ...

    async def close(self) -> None: ...


def flag_text(value: object) -> str | None:
    """How a flag value is stored as text: booleans as true/false, None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def mismatches(plan: Mapping[str, bool | str], actual: Mapping[str, str | None]) -> list[str]:
    """Flags whose read-back value differs from the plan, compared as the `flags` check compares them."""
    return [f"{name} reads {actual.get(name) if actual.get(name) is not None else 'unset'} "
            f"(plan: {normalise_flag(want)})"
            for name, want in plan.items() if normalise_flag(want) != normalise_flag(actual.get(name))]


async def apply_flags(provider: FlagProvider, plan: Mapping[str, bool | str], *, attempts: int = 3,
                      delay: float = 0.2) -> tuple[dict[str, str | None], list[str]]:
    """Write the plan, then read it back (a few times: flag services may be eventually consistent)."""
    await provider.write(plan)
    actual: dict[str, str | None] = {}
    problems: list[str] = []
    for attempt in range(max(1, attempts)):
        actual = await provider.read(list(plan))
        problems = mismatches(plan, actual)
        if not problems:
            break
        if attempt + 1 < attempts:
            await asyncio.sleep(delay)
    return actual, problems


def flag_reader(provider: FlagProvider) -> FlagReader:
    """A `CheckContext.flag_reader`, so the `flags` check compares the plan with the provider."""

    async def read(names: list[str]) -> dict[str, str | None]:
        return await provider.read(names)

    return read


def build_provider(config: Mapping[str, Any], *, workdir: Path, env: Mapping[str, str]) -> FlagProvider:
    """A provider from the checklist's `rollout.provider`, `${VAR}`s filled from the target's settings."""
    try:
        cfg = dict(interpolate(dict(config), env))
    except MissingVariable as exc:
        raise ProviderError(f"rollout.provider: {exc}") from None
    headers = cfg.get("headers")
    if isinstance(headers, Mapping):  # the flag service's token: a known secret from now on, in every output
        masker.add_from_env({str(k): str(v) for k, v in headers.items()})
    kind = cfg.pop("kind", "dotenv")
    if kind == "dotenv":
        from bot.rollout.providers.dotenv import DotenvProvider

        path = Path(str(cfg.pop("path", ".env"))).expanduser()
        _no_extra(kind, cfg)
        return DotenvProvider(path if path.is_absolute() else workdir / path)
    if kind == "redis":
        from bot.rollout.providers.redis import RedisProvider

        return RedisProvider.from_config(cfg)
    if kind == "http":
        from bot.rollout.providers.http import HttpProvider

        return HttpProvider.from_config(cfg)
    raise ProviderError(f"rollout.provider.kind {kind!r} is not one of dotenv, redis, http")


def _no_extra(kind: str, cfg: Mapping[str, Any]) -> None:
    if cfg:
        raise ProviderError(f"rollout.provider ({kind}): unknown key(s) {', '.join(sorted(cfg))}")


__all__ = ["FlagProvider", "ProviderError", "apply_flags", "build_provider", "flag_reader", "flag_text",
           "mismatches"]
