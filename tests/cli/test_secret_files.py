"""Every secret setting accepts NAME_FILE (the Docker and Kubernetes secrets convention), issue 18 item 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import (
    SECRET_SETTINGS,
    SecretFileError,
    Settings,
    env_names,
    get_settings,
    secret_env_names,
    secret_fields,
)
from tests.cli.inprocess import golive_in_process


def test_the_secret_list_is_exactly_the_secret_typed_settings() -> None:
    """Every secret-typed setting is kept from checks (secret_fields); each is readable from a file: NAME_FILE
    for SECRET_SETTINGS, a file setting of its own for the audit and link keys."""
    typed = {name for name, field in Settings.model_fields.items()
             if field.annotation in (SecretStr, SecretStr | None)}
    assert set(secret_fields()) == typed
    assert {name for name in typed - set(SECRET_SETTINGS) if f"{name}_file" not in Settings.model_fields} == set()


@pytest.mark.usefixtures("isolated_env")
@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_each_secret_setting_reads_each_of_its_names_from_a_file(tmp_path: Path, name: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for var in env_names(name, Settings.model_fields[name]):
        secret = tmp_path / f"{var}.txt"
        secret.write_text(f"value-of-{var}\n")  # the trailing newline an editor or `echo` adds is not the secret
        monkeypatch.setenv(var + "_FILE", str(secret))
        get_settings.cache_clear()
        assert get_settings().secret(name) == f"value-of-{var}"
        monkeypatch.delenv(var + "_FILE")


@pytest.mark.usefixtures("isolated_env")
def test_a_file_named_in_the_dotenv_file_works_too(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("xoxb-from-a-file")
    (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN_FILE={tmp_path / 'token'}\n")
    assert Settings().secret("slack_bot_token") == "xoxb-from-a-file"


@pytest.mark.usefixtures("isolated_env")
def test_both_the_value_and_its_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("a")
    monkeypatch.setenv("GOLIVE_DATABASE_URL", "postgresql://x")
    monkeypatch.setenv("GOLIVE_DATABASE_URL_FILE", str(tmp_path / "token"))
    with pytest.raises(SecretFileError, match="both GOLIVE_DATABASE_URL and GOLIVE_DATABASE_URL_FILE are set"):
        Settings()


def test_an_unreadable_file_is_one_line_that_names_the_variable_and_the_fix(tmp_path: Path) -> None:
    done = golive_in_process("checks", env={"TEAMS_APP_PASSWORD_FILE": str(tmp_path / "missing")}, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (f"golive: cannot read {tmp_path / 'missing'} (No such file or directory), the file "
                           "TEAMS_APP_PASSWORD_FILE names: point TEAMS_APP_PASSWORD_FILE at a readable file or "
                           "unset it\n")


def test_every_name_and_file_name_of_a_secret_is_withheld_from_checks() -> None:
    names = set(secret_env_names())
    assert {"SLACK_BOT_TOKEN", "GOLIVE_SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TEAMS_APP_PASSWORD",
            "GOLIVE_DATABASE_URL", "GOLIVE_SENTRY_DSN", "GOLIVE_REDIS_URL", "SLACK_APP_TOKEN_FILE"} <= names
    assert len(names) == 2 * len(names - {n for n in names if n.endswith("_FILE")})
