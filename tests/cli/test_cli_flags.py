"""`env.feature_flags` compares the current rollout phase's plan with the flag provider's real values."""

from __future__ import annotations

import json
from pathlib import Path

from bot.rollout.models import phase_key
from bot.store import open_store
from tests.cli.inprocess import golive_in_process

CHECKLIST = """name: flags-cli
phases:
  - id: day1
    checks:
      - {id: env.feature_flags, kind: flags, criticality: high}
rollout:
  provider: {kind: dotenv, path: flags.env}
  phases:
    - {id: phase-1, flags: {PC_ENABLED: false}}
    - {id: phase-2, flags: {PC_ENABLED: true}}
"""


def test_flags_are_read_from_the_provider_and_judged_against_the_current_phase(tmp_path: Path) -> None:
    (tmp_path / "flags.yml").write_text(CHECKLIST)
    (tmp_path / "flags.env").write_text("# provider file\nPC_ENABLED=true\n")
    env = {"PC_ENABLED": "false"}  # the bot's own environment says otherwise: it must not be used
    proc = golive_in_process("run", "day1", "--checklist", str(tmp_path / "flags.yml"), "--json", env=env, cwd=tmp_path)
    result = json.loads(proc.stdout)["results"][0]
    assert result["status"] == "fail" and result["evidence"]["source"] == "flag provider"
    assert "PC_ENABLED is true (plan: false)" in result["summary"]

    store = open_store(None, sqlite_path=tmp_path / "state" / "golive.db")
    store.put(phase_key("flags-cli"), "phase-2")
    store.close()
    proc = golive_in_process("run", "day1", "--checklist", str(tmp_path / "flags.yml"), "--json", env=env, cwd=tmp_path)
    result = json.loads(proc.stdout)["results"][0]
    assert result["status"] == "pass" and result["evidence"]["phase"] == "phase-2"
