"""Reading the target service's settings: the bot's own environment, a dotenv file, or a command's output
(`docker compose exec -T api env`, `kubectl exec deploy/api -- env`)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from dotenv import dotenv_values

from checks.masking import mask, masker
from checks.process import run_process
from checks.spec import Checklist


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


async def read_target_env(checklist: Checklist, workdir: Path) -> dict[str, str]:
    """The variables checks see: checklist `vars` defaults overlaid by the configured source."""
    src = checklist.settings
    values: dict[str, str] = dict(checklist.vars)
    if src.source == "process" or src.include_process_env:
        values.update(os.environ)
    if src.source == "dotenv":
        path = Path(src.path or ".env")
        path = path if path.is_absolute() else workdir / path
        if not path.is_file():
            raise SettingsError(f"settings file {path} not found (settings.path in {checklist.source_path})")
        values.update({k: v or "" for k, v in dotenv_values(path).items()})
    elif src.source == "command":
        if not src.command:
            raise SettingsError(
                f"settings.source is 'command' but settings.command is empty in {checklist.source_path}")
        try:
            result = await asyncio.wait_for(run_process(src.command, cwd=workdir), src.timeout)
        except TimeoutError as exc:
            raise SettingsError(f"settings command did not finish within {src.timeout:g}s") from exc
        except OSError as exc:
            raise SettingsError(f"settings command could not start: {mask(str(exc))}") from exc
        if result.returncode != 0:
            raise SettingsError(
                f"settings command exited {result.returncode}: {mask(result.tail(5))}"
            )
        values.update(parse_env_lines(result.stdout))
    masker.add_from_env(values)
    return values
