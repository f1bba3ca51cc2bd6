"""The bot's settings, from the environment (GOLIVE_*, SLACK_*, TEAMS_*) or a .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from checks.loader import bundled_checklist


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      env_prefix="GOLIVE_")

    checklist: Path | None = Field(None, description="checklist file; unset runs the bundled demo")
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
                                 "id: who the CLI acts as (bot.identity)")
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
