"""Flag providers: where a rollout's feature flags live (a dotenv file, Redis, a flag service, Unleash,
LaunchDarkly).

One small interface so promote/rollback and the `flags` check never care which one is configured:
`read(names)` returns the values as text (None when unset; a percentage as `25%`), `write(values)` sets
them. Flag services with strategies (Unleash, LaunchDarkly) also keep a `snapshot` of each flag's whole
state (targeting, strategies, rollouts) and `restore` it exactly: a rollback puts back what was there,
not an approximation of it, and an edit made by someone else since golive's last change is detected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from checks.interpolate import MissingVariable, interpolate
from checks.kinds.flags import normalise_flag
from checks.masking import masker
from checks.registry import FlagReader
from checks.spec import FlagSetting, FlagValue, Rollout


class ProviderError(RuntimeError):
    """A flag provider could not read or write; the message is safe to show (secrets masked)."""


class FlagProvider(Protocol):
    description: str

    async def read(self, names: Sequence[str]) -> dict[str, str | None]: ...

    async def write(self, values: Mapping[str, FlagValue]) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class StatefulProvider(Protocol):
    """A flag service whose flags hold more than a value (strategies, rollouts): golive snapshots the whole
    state before a change and restores it exactly on rollback. `supports_rollout`: it can serve a flag to
    a percentage of users."""

    description: str
    supports_rollout: bool

    async def snapshot(self, names: Sequence[str]) -> dict[str, Any]: ...

    async def restore(self, state: Mapping[str, Any]) -> None: ...

    def state_text(self, entry: Any) -> str: ...

    def same_state(self, a: Any, b: Any) -> bool: ...


def web_url(value: str) -> str:
    """A flag service's address must say how to reach it: `unleash.example.com` fails at the first
    promotion, far from the line to fix, so it is refused at load."""
    if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
        raise ValueError(f"{value!r} is not an http:// or https:// URL (e.g. https://flags.example.com)")
    return value


def config_error(kind: str, errors: Sequence[Mapping[str, Any]]) -> ProviderError:
    """A provider setting pydantic refused, as the one line `promote` exits 2 with."""
    err = errors[0]
    where = ".".join(map(str, err["loc"]))
    return ProviderError(f"rollout.provider ({kind}): {where} {str(err['msg']).removeprefix('Value error, ')}")


def stateful(provider: object) -> StatefulProvider | None:
    return provider if isinstance(provider, StatefulProvider) else None


def flag_text(value: object) -> str | None:
    """How a flag value is stored as text: booleans as true/false, a percentage as `25%`, None stays None."""
    if value is None:
        return None
    if isinstance(value, FlagSetting):
        return normalise_flag(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def percentage_problems(rollout: Rollout | None, provider: object) -> list[str]:
    """Phases that plan a percentage the provider cannot serve (a dotenv file, Redis or a generic flag
    service holds a value, not a share of users): one line per flag, saying what to do."""
    if rollout is None or getattr(provider, "supports_rollout", False):
        return []
    where = getattr(provider, "description", "this provider")
    return [f"rollout.phases[{p.id}].flags.{name}: rollout: {value.rollout} needs a provider that serves a "
            f"percentage of users (kind: unleash or launchdarkly); {where} holds only on/off: use on: true, "
            f"or move the flag to Unleash or LaunchDarkly"
            for p in rollout.phases for name, value in p.flags.items()
            if isinstance(value, FlagSetting) and value.gradual]


def mismatches(plan: Mapping[str, FlagValue], actual: Mapping[str, str | None]) -> list[str]:
    """Flags whose read-back value differs from the plan, compared as the `flags` check compares them."""
    return [f"{name} reads {actual.get(name) if actual.get(name) is not None else 'unset'} "
            f"(plan: {normalise_flag(want)})"
            for name, want in plan.items() if normalise_flag(want) != normalise_flag(actual.get(name))]


async def apply_flags(provider: FlagProvider, plan: Mapping[str, FlagValue], *, attempts: int = 3,
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


def build_provider(config: Mapping[str, Any], *, workdir: Path, env: Mapping[str, str],
                   rollout: Rollout | None = None, read_only: bool = False) -> FlagProvider:
    """A provider from the checklist's `rollout.provider`, `${VAR}`s filled from the target's settings.
    With `rollout`, a phase planning a percentage the provider cannot serve is refused here, at load.
    `read_only` (golive doctor): building it touches nothing either (no lock file, no clean-up)."""
    provider = _build(config, workdir=workdir, env=env, read_only=read_only)
    problems = percentage_problems(rollout, provider)
    if problems:
        raise ProviderError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    return provider


def _build(config: Mapping[str, Any], *, workdir: Path, env: Mapping[str, str], read_only: bool) -> FlagProvider:
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

        raw_path = cfg.pop("path", ".env")
        if not isinstance(raw_path, str) or not raw_path.strip():
            raise ProviderError("rollout.provider (dotenv): path must name the service's dotenv file, e.g. "
                                "path: ../shop/.env (relative to the checklist)")
        path = Path(raw_path).expanduser()
        _no_extra(kind, cfg)
        return DotenvProvider(path if path.is_absolute() else workdir / path, tidy=not read_only)
    if kind == "redis":
        from bot.rollout.providers.redis import RedisProvider

        return RedisProvider.from_config(cfg)
    if kind == "http":
        from bot.rollout.providers.http import HttpProvider

        return HttpProvider.from_config(cfg)
    if kind == "unleash":
        from bot.rollout.providers.unleash import UnleashProvider

        return UnleashProvider.from_config(cfg)
    if kind == "launchdarkly":
        from bot.rollout.providers.launchdarkly import LaunchDarklyProvider

        return LaunchDarklyProvider.from_config(cfg)
    raise ProviderError(f"rollout.provider.kind {kind!r} is not one of dotenv, redis, http, unleash, launchdarkly")


def _no_extra(kind: str, cfg: Mapping[str, Any]) -> None:
    if cfg:
        raise ProviderError(f"rollout.provider ({kind}): unknown key(s) {', '.join(sorted(cfg))}")


__all__ = ["FlagProvider", "ProviderError", "StatefulProvider", "apply_flags", "build_provider", "config_error",
           "flag_reader", "flag_text", "mismatches", "percentage_problems", "stateful", "web_url"]
