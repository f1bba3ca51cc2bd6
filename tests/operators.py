"""The operators file the CLI takes its identity from (bot.authority.identity), written for a test: the OS user
running the tests mapped to the given chat user ids (and other OS users as asked)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from bot.authority.identity import os_user


def write_operators(directory: Path, *ids: str, others: dict[str, list[str]] | None = None,
                    ci: dict[str, object] | None = None) -> Path:
    """Map this process's OS user to `ids` (unmapped when there are none); returns the file (0644)."""
    users: dict[str, list[str]] = dict(others or {})
    if ids:
        users[os_user()] = list(ids)
    path = directory / "operators.yml"
    path.write_text(yaml.safe_dump({"operators": users, **({"ci": ci} if ci else {})}))
    os.chmod(path, 0o644)
    return path
