"""`.env.example` documents real settings only, with placeholders instead of secrets."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_every_name_is_a_setting_and_no_value_is_a_real_secret() -> None:
    names: set[str] = set()
    for field_name, info in Settings.model_fields.items():
        names.add(f"GOLIVE_{field_name.upper()}")
        if info.validation_alias is not None:
            names.update(getattr(info.validation_alias, "choices", []))
    lines = [line.lstrip("# ").strip() for line in ENV_EXAMPLE.read_text().splitlines()]
    entries = dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line))
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "GOLIVE_SLACK_CHANNEL",
            "GOLIVE_REDIS_URL", "GOLIVE_PROGRESS_INTERVAL"} <= set(entries)
    assert set(entries) <= names, set(entries) - names
    assert not re.search(r"xox[bpa]-\d|xapp-\d", ENV_EXAMPLE.read_text())
