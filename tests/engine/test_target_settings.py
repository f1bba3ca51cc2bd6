"""The target's settings come from the process, a dotenv file or a command's output, as configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.interpolate import MissingVariable, interpolate
from checks.loader import parse_checklist
from checks.result import Status
from checks.runner import Runner
from checks.target_env import SettingsError, read_target_env

CHECKS = """phases:
  - id: p
    checks:
      - {id: env.environment, kind: env, params: {var: ENVIRONMENT, equals: production}}
"""


def checklist(settings: str, tmp_path: Path):
    return parse_checklist(f"name: t\nvars: {{ENVIRONMENT: staging}}\nsettings: {settings}\n" + CHECKS,
                           str(tmp_path / "t.yml"))


async def test_dotenv_source_reads_the_file_next_to_the_checklist(tmp_path: Path) -> None:
    (tmp_path / "svc.env").write_text("# comment\nENVIRONMENT=production\nexport LOG_LEVEL=INFO\n")
    cl = checklist("{source: dotenv, path: svc.env}", tmp_path)
    env = await read_target_env(cl, tmp_path)
    assert env["ENVIRONMENT"] == "production" and env["LOG_LEVEL"] == "INFO"
    report = await Runner(cl).run(cl.all_checks())
    assert report.results[0].status is Status.PASS


async def test_command_source_parses_key_value_lines(tmp_path: Path) -> None:
    cl = checklist("{source: command, command: \"bash -c 'echo ENVIRONMENT=production; echo X=a=b'\"}", tmp_path)
    env = await read_target_env(cl, tmp_path)
    assert env["ENVIRONMENT"] == "production" and env["X"] == "a=b"


async def test_a_failing_settings_command_says_what_happened_without_secrets(tmp_path: Path) -> None:
    cl = checklist("{source: command, command: \"bash -c 'echo postgresql://u:Cmd-Pw-5@h/d >&2; exit 7'\"}",
                   tmp_path)
    with pytest.raises(SettingsError) as err:
        await read_target_env(cl, tmp_path)
    assert "exited 7" in str(err.value) and "Cmd-Pw-5" not in str(err.value)


async def test_missing_dotenv_file_is_named(tmp_path: Path) -> None:
    cl = checklist("{source: dotenv, path: nope.env}", tmp_path)
    with pytest.raises(SettingsError, match=r"nope\.env"):
        await read_target_env(cl, tmp_path)


async def test_vars_are_defaults_the_source_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    cl = checklist("{source: process}", tmp_path)
    assert (await read_target_env(cl, tmp_path))["ENVIRONMENT"] == "staging"
    monkeypatch.setenv("ENVIRONMENT", "production")
    assert (await read_target_env(cl, tmp_path))["ENVIRONMENT"] == "production"


def test_interpolation_defaults_escapes_and_missing_names() -> None:
    env = {"HOST": "db", "EMPTY": ""}
    assert interpolate("postgresql://${HOST}:${PORT:-5432}/x", env) == "postgresql://db:5432/x"
    assert interpolate("${EMPTY:-fallback}", env) == "fallback"
    assert interpolate("cost $$5", env) == "cost $5"
    assert interpolate({"a": ["${HOST}"]}, env) == {"a": ["db"]}
    with pytest.raises(MissingVariable, match="NOPE is not set"):
        interpolate("${NOPE}", env)
