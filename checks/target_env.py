"""Reading the target service's settings: the bot's own environment, a dotenv file, or a command's output
(`docker compose exec -T api env`, `kubectl exec deploy/api -- env`)."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from checks.bounded import CapExceeded, read_file_capped
from checks.masking import mask, masker
from checks.process import CONFINEMENT, run_process
from checks.spec import Checklist, SettingsSource


class SettingsError(RuntimeError):
    """The target's settings could not be read; the message says what to fix."""


def parse_env_lines(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, _, value = line.partition("=")
        key = key.strip()
        if key.isidentifier():
            env[key] = value
    return env


def with_names(values: dict[str, str], settings: SettingsSource) -> dict[str, str]:
    """`values` plus the checklist's names for the service's prefixed or aliased ones.

    With `prefix: HUNTER_`, HUNTER_DATABASE_URL is also readable as DATABASE_URL (and wins over a
    DATABASE_URL the service may also have: the prefixed one is what it uses).
    """
    out = dict(values)
    if settings.prefix:
        cut = len(settings.prefix)
        for name, value in values.items():
            if name.startswith(settings.prefix) and len(name) > cut:
                out[name[cut:]] = value
    for short, real in settings.aliases.items():
        if real in values:
            out[short] = values[real]
    return out


def real_name(settings: SettingsSource, env: Mapping[str, str], name: str) -> str:
    """The service's own name for a checklist name (what evidence shows): HUNTER_DATABASE_URL."""
    real = settings.aliases.get(name) or (settings.prefix + name if settings.prefix else "")
    if real and real != name and real in env and env.get(name) == env[real]:
        return real
    return name


async def read_target_env(checklist: Checklist, workdir: Path) -> dict[str, str]:
    """The variables checks see: checklist `vars` defaults overlaid by the configured source.

    Prefixed/aliased names are resolved per layer, so a value the service sets beats a default.
    """
    values = with_names(dict(checklist.vars), checklist.settings)
    values.update(with_names(await _read_source(checklist, workdir), checklist.settings))
    masker.add_from_env(values)
    return values


async def _read_source(checklist: Checklist, workdir: Path) -> dict[str, str]:
    src = checklist.settings
    values: dict[str, str] = {}
    if src.source == "process" or src.include_process_env:  # golive's own secrets are not the target's
        values.update({k: v for k, v in os.environ.items() if k not in CONFINEMENT.secret_env})
    if src.source == "dotenv":
        path = Path(src.path or ".env")
        path = path if path.is_absolute() else workdir / path
        if not path.exists():
            raise SettingsError(f"settings file {path} not found (settings.path in {checklist.source_path})")
        try:
            raw = await asyncio.to_thread(read_file_capped, path, src.max_bytes, what="settings file",
                                          setting="settings.max_bytes")
        except CapExceeded as exc:
            raise SettingsError(str(exc)) from None
        except OSError as exc:
            raise SettingsError(f"settings file {path} {exc.strerror or 'cannot be read'} "
                                f"(settings.path in {checklist.source_path})") from None
        text = raw.decode("utf-8", errors="replace")
        values.update({k: v or "" for k, v in dotenv_values(stream=io.StringIO(text)).items()})
    elif src.source == "command":
        if not src.command:
            raise SettingsError(
                f"settings.source is 'command' but settings.command is empty in {checklist.source_path}")
        try:
            result = await asyncio.wait_for(
                run_process(src.command, cwd=workdir, max_output_bytes=src.max_bytes, cap_setting="settings.max_bytes"),
                src.timeout)
        except CapExceeded as exc:
            raise SettingsError(f"settings command: {exc}") from None
        except TimeoutError as exc:
            raise SettingsError(f"settings command did not finish within {src.timeout:g}s") from exc
        except OSError as exc:
            raise SettingsError(f"settings command could not start: {mask(str(exc))}") from exc
        if result.returncode != 0:
            raise SettingsError(
                f"settings command exited {result.returncode}: {mask(result.tail(5))}"
            )
        values.update(parse_env_lines(result.stdout))
    return values
