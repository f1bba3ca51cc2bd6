"""The bot's settings, from the environment (GOLIVE_*, SLACK_*, TEAMS_*) or a .env file.

Every secret setting (SECRET_SETTINGS) may also be given as a file, `NAME_FILE=/run/secrets/name` (the
Docker and Kubernetes secrets convention), so the secret need not sit in golive's environment at all.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from checks.loader import bundled_checklist
from checks.process import configure_confinement

# The settings that are secrets, golive's own: never shown, never passed to a process a check starts,
# each readable from NAME_FILE. A new secret setting is a SecretStr field and belongs here.
SECRET_SETTINGS: tuple[str, ...] = (
    "database_url", "redis_url", "sentry_dsn", "slack_bot_token", "slack_signing_secret", "slack_app_token",
    "teams_app_password", "unleash_api_token", "launchdarkly_api_token",
)
ENV_PREFIX = "GOLIVE_"
ENV_FILE = ".env"


class SecretFileError(ValueError):
    """A NAME_FILE secret setting that cannot be used; the message says what to change."""


def env_names(name: str, field: FieldInfo) -> list[str]:
    """The variables a setting is read from: its aliases, else GOLIVE_<NAME>."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str)]
    if isinstance(alias, str):
        return [alias]
    return [ENV_PREFIX + name.upper()]


def secret_fields() -> list[str]:
    """Every secret setting: SECRET_SETTINGS, and any other SecretStr field (the audit and link keys, whose
    files are settings of their own), so a secret added later is covered without a list to update."""
    typed = [name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)]
    return list(dict.fromkeys([*SECRET_SETTINGS, *typed]))


def secret_env_names() -> list[str]:
    """Every variable that can carry one of golive's secrets, NAME and NAME_FILE."""
    names = [n for s in secret_fields() for n in env_names(s, Settings.model_fields[s])]
    return [*names, *(n + "_FILE" for n in names)]


def _dotenv(path: Path | None = None) -> dict[str, str]:
    path = path or Path(ENV_FILE)
    if not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def read_secret_file(var: str, path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise SecretFileError(f"cannot read {path} ({reason}), the file {var} names: point {var} at a "
                              "readable file or unset it") from None
    return text.removesuffix("\n").removesuffix("\r")  # one trailing newline, as `echo` or an editor adds


class SecretFilesSource(PydanticBaseSettingsSource):
    """NAME_FILE for every secret setting, from the environment or the .env file."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is done in __call__

    def __call__(self) -> dict[str, Any]:
        dotenv = _dotenv()
        values: dict[str, Any] = {}
        for name in SECRET_SETTINGS:
            for var in env_names(name, self.settings_cls.model_fields[name]):
                path = os.environ.get(var + "_FILE") or dotenv.get(var + "_FILE")
                if not path:
                    continue
                if os.environ.get(var) or dotenv.get(var):
                    raise SecretFileError(f"both {var} and {var}_FILE are set: keep one (the file is safer)")
                field = self.settings_cls.model_fields[name]
                values[var if field.validation_alias else name] = read_secret_file(var + "_FILE", path)
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      env_prefix="GOLIVE_")

    checklist: Path | None = Field(None, description="checklist file; unset runs the bundled demo")
    services: Path | None = Field(None, description="services YAML file, or a folder of checklists (one service "
                                  "each): one bot for many services (bot.services.loading); not with checklist")
    database_url: SecretStr | None = Field(None, description="postgresql://… for a shared store; unset = SQLite")
    state_dir: Path = Field(Path("golive-state"), description="where the SQLite store and backups go")
    redis_url: SecretStr | None = Field(None, description="locks, alert dedup and the leader lease")
    redis_prefix: str = "golive:"
    concurrency: int = Field(16, ge=1, le=256)
    environment: str = "production"
    release: str | None = None
    sentry_dsn: SecretStr | None = Field(None, description="the bot's own errors")
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: str = "INFO"
    roles: str | None = Field(None, description="who holds each sign-off role: tech_lead=U01,U02;devops_lead=S0G")
    audit_key: SecretStr | None = Field(None, description="HMAC key(s) of the audit chain, comma-separated, the "
                                        "last one signs (bot.store.auditkey)")
    audit_key_file: Path | None = Field(None, description="file with the audit key(s), one a line, the last signs")
    audit_witness_file: Path | None = Field(None, description="where witnessed chain heads are kept (default: "
                                            "<state dir>/audit-witness.jsonl)")
    operators_file: Path = Field(Path("/etc/golive/operators.yml"), description="OS user (or CI job) -> chat user "
                                 "id: who the CLI acts as (bot.authority.identity)")
    witness_hours: float = Field(24.0, gt=0, le=24 * 7, description="hours between daily witness posts")
    http_host: str = "0.0.0.0"
    http_port: int = 3000
    public_url: str | None = None
    link_key: SecretStr | None = Field(None, description="HMAC key of the web view's links (else link_key_file, "
                                      "else link.key generated 0600 in the state dir)")
    link_key_file: Path | None = Field(None, description="file holding the web view's link key")
    link_ttl: str | None = Field(None, description="how long a web view link stays valid: 7d (default), 12h, 30m")

    slack_bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_BOT_TOKEN",
                                                                                  "GOLIVE_SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "SLACK_SIGNING_SECRET", "GOLIVE_SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_APP_TOKEN",
                                                                                  "GOLIVE_SLACK_APP_TOKEN"))
    slack_channel: str | None = Field(None, description="release channel for announcements and alerts")
    slack_api_url: str = Field("https://slack.com/api/", description="Web API base URL (tests point it locally)")
    store_timeout: float = Field(5.0, ge=1, description="seconds one store operation waits for a PostgreSQL "
                                 "connection before it is retried")
    sweep_seconds: float = Field(30.0, gt=0, description="how often a replica looks for runs whose owner died "
                                 "(their heartbeat expired) and repaints them as interrupted")
    progress_interval: float = Field(1.2, description="min seconds between progress updates of one message")
    post_interval: float | None = Field(None, description="seconds between posts in one channel once the burst "
                                        "is spent (default: each transport's own, Slack 1.1)")
    post_burst: int = Field(4, description="posts one channel may take at once before pacing starts")

    teams_app_id: str | None = Field(None, validation_alias=AliasChoices("TEAMS_APP_ID", "GOLIVE_TEAMS_APP_ID"))
    teams_app_password: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "TEAMS_APP_PASSWORD", "GOLIVE_TEAMS_APP_PASSWORD"))
    teams_tenant_id: str | None = Field(None, validation_alias=AliasChoices("TEAMS_TENANT_ID",
                                                                            "GOLIVE_TEAMS_TENANT_ID"))
    teams_anonymous: bool = Field(False, description="accept unauthenticated activities (tests only)")
    teams_channel: str | None = Field(None, validation_alias=AliasChoices("TEAMS_CHANNEL", "GOLIVE_TEAMS_CHANNEL"),
                                      description="release channel (conversation id 19:…@thread.tacv2) for "
                                                  "announcements and alerts")
    teams_service_url: str | None = Field(None, validation_alias=AliasChoices(
        "TEAMS_SERVICE_URL", "GOLIVE_TEAMS_SERVICE_URL"), description="Bot Connector URL for the channel before "
        "the bot has heard from it (e.g. https://smba.trafficmanager.net/emea/)")
    teams_service_hosts: str | None = Field(None, validation_alias=AliasChoices(
        "TEAMS_SERVICE_HOSTS", "GOLIVE_TEAMS_SERVICE_HOSTS"), description="Bot Connector hosts the bot may "
        "call, comma-separated (default: the Teams hosts, smba.trafficmanager.net and the government clouds')")

    unleash_api_token: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "UNLEASH_API_TOKEN", "GOLIVE_UNLEASH_API_TOKEN"), description="Unleash Admin API token for "
        "`rollout.provider: {kind: unleash}` (a service account or admin token that may update feature environments)")
    launchdarkly_api_token: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "LAUNCHDARKLY_API_TOKEN", "GOLIVE_LAUNCHDARKLY_API_TOKEN"), description="LaunchDarkly REST API access "
        "token for `rollout.provider: {kind: launchdarkly}` (writer role on the project)")

    check_isolation: Literal["auto", "namespaces", "user", "none"] = Field(
        "auto", description="how processes a check starts are kept from golive's secrets (README \"What a "
        "target can and cannot do to golive\"); auto: namespaces if the kernel allows, else `user` as root")
    check_user: str = Field("nobody", description="whom a root golive runs check processes as in `user` mode")
    check_env: str | None = Field(None, description="more variables of golive's environment check processes "
                                  "get, comma-separated (e.g. KUBECONFIG,DOCKER_HOST); never a secret")

    @field_validator("services", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        """`GOLIVE_SERVICES=` (empty) is unset, not the current directory read as a folder of checklists."""
        return None if isinstance(value, str) and not value.strip() else value

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, SecretFilesSource(settings_cls), env_settings, dotenv_settings, file_secret_settings

    def checklist_path(self) -> Path:
        return self.checklist or bundled_checklist("demo")

    @property
    def is_demo(self) -> bool:
        return self.checklist is None

    def sqlite_path(self) -> Path:
        return self.state_dir / "golive.db"

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else None


def secret_files() -> dict[str, str]:
    """NAME_FILE variables set (environment or .env) and their paths."""
    dotenv = _dotenv()
    out: dict[str, str] = {}
    for var in secret_env_names():
        if var.endswith("_FILE") and (path := os.environ.get(var) or dotenv.get(var)):
            out[var] = path
    return out


def confine_checks(settings: Settings) -> None:
    """Keep every process a check starts away from golive's secrets: their variables, the state dir, the
    secret files and the .env file (checks.process, checks.jail)."""
    cover: list[Path] = [settings.state_dir, *(Path(p) for p in secret_files().values())]
    if Path(ENV_FILE).is_file():
        cover.append(Path(ENV_FILE))
    passed = [n.strip() for n in (settings.check_env or "").split(",") if n.strip()]
    configure_confinement(mode=settings.check_isolation, user=settings.check_user, cover=cover,
                          secret_env=secret_env_names(), pass_env=passed)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = Settings()
    confine_checks(settings)
    return settings


def provider_token(name: str) -> str | None:
    """A flag service's API token (`unleash_api_token`, `launchdarkly_api_token`) from the environment,
    NAME_FILE or .env, registered with the masker so it never appears in any output."""
    from checks.masking import masker

    value = Settings().secret(name)
    if value:
        masker.add(value)
    return value
