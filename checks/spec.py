"""The checklist file schema: phases of checks, where the target's settings come from, sign-off roles
and the rollout plan. Validated on load by `checks.loader`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from checks.result import Criticality, Status, server_error_status

ID_PATTERN = r"^[a-z0-9][a-z0-9_.\-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SettingsSource(Strict):
    """Where the target service's settings (its environment) are read from."""

    source: Literal["process", "dotenv", "command"] = "process"
    path: str | None = Field(None, description="dotenv file, relative to the checklist")
    command: str | list[str] | None = Field(
        None, description="prints KEY=VALUE lines, e.g. `kubectl exec deploy/api -- env`")
    timeout: float = 20.0
    max_bytes: int = Field(1024 * 1024, gt=0, description=(
        "read at most this many bytes of the dotenv file or of the command's output (default 1 MiB)"))
    include_process_env: bool = Field(
        False, description="dotenv/command: fall back to the bot's own environment for names they lack"
    )
    prefix: str = Field("", pattern=r"^[A-Za-z0-9_]*$", description=(
        "the service prefixes its variables (HUNTER_): ${DATABASE_URL} and var: DATABASE_URL read "
        "HUNTER_DATABASE_URL when the service sets it"))
    aliases: dict[str, str] = Field(default_factory=dict, description=(
        "checklist name -> the service's real name, e.g. {DATABASE_URL: HUNTER_DB_DSN}"))


class Production(Strict):
    """This checklist's definition of production: the settings that say "this is production" (ENVIRONMENT)
    and the hosts production's services live on. `guard.force_production` presents exactly these to the
    script it tests, so the script's own production test is met."""

    env: dict[str, str] = Field(default_factory=lambda: {"ENVIRONMENT": "production"}, description=(
        "settings whose values mean production, e.g. {ENVIRONMENT: production}"))
    hosts: list[str] = Field(default_factory=list, description=(
        "hosts (globs) of production's database/services, e.g. [prod-db.internal, '*.prod.example.com']"))


class Target(Strict):
    base_url: str = "http://localhost:8000"
    headers: dict[str, str] = Field(default_factory=dict)
    verify_tls: bool = True


class CheckSpec(Strict):
    id: str = Field(pattern=ID_PATTERN)
    kind: str
    title: str = ""
    criticality: Criticality = Criticality.HIGH
    criticality_when_5xx: Criticality | None = Field(
        None, description="the criticality when the check fails because the target answered HTTP 5xx")
    waivable: bool = Field(False, description="a critical check may be waived (non-critical ones always may)")
    timeout: float = Field(30.0, gt=0, le=3600)
    needs: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list, description="run after these (if selected), whatever their result")
    when: dict[str, str] | None = Field(None, description="run only when these target variables have these values")
    params: dict[str, Any] = Field(default_factory=dict)
    mutates: bool | None = Field(
        None, description="changes the target (default: per kind, e.g. POST/PUT/PATCH/DELETE http); "
                          "never runs alongside other checks")
    phase: str = Field("", exclude=True)

    def weight(self, status: Status, evidence: dict[str, Any]) -> Criticality:
        """This check's criticality for one result: `criticality_when_5xx` when it failed because the
        target answered a server error, its declared criticality otherwise."""
        if self.criticality_when_5xx is not None and status in (Status.FAIL, Status.ERROR) \
                and server_error_status(evidence) is not None:
            return self.criticality_when_5xx
        return self.criticality


class PhaseSpec(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = ""
    description: str = ""
    schedule: str | None = Field(None, description="cron expression for scheduled runs")
    checks: list[CheckSpec] = Field(min_length=1)


class Role(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str
    members: list[str] = Field(default_factory=list, description="chat user ids (Slack U…, Teams AAD ids)")
    groups: list[str] = Field(default_factory=list, description="Slack user group ids (S…)")


class SignoffStage(Strict):
    title: str = ""
    roles: list[Role] = Field(min_length=1)
    no_self_approval: bool = Field(
        False, description="whoever asked for the sign-off card may not approve on it (four-eyes on the request)")
    allow_self_signoff: bool = Field(
        True, description="deprecated, no effect: requesting a card never disqualifies anyone unless "
                          "no_self_approval is true")


class Criteria(Strict):
    """Success criteria of a rollout phase; defaults are the go-live plan's thresholds."""

    error_rate_max: float = 0.01
    p95_latency_ms_max: float = 500.0
    p95_latency_ms_alert: float = 2000.0
    integration_success_min: float = 0.90
    cache_hit_rate_min: float = 0.50
    timeout_rate_max: float = 0.10
    task_failure_rate_max: float = 0.05


class FlagSetting(Strict):
    """A flag in a phase's plan written as a mapping: on or off, or on for a percentage of users
    (`{on: true, rollout: 25}`), which only a provider that serves percentages (unleash, launchdarkly)
    can apply. YAML reads a bare `on` key as a boolean; it is taken as `on` here."""

    on: bool
    rollout: int | None = Field(None, ge=0, le=100, description="percent of users served the flag on")

    @model_validator(mode="before")
    @classmethod
    def _yaml_on_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data

    @model_validator(mode="after")
    def _rollout_needs_on(self) -> FlagSetting:
        if self.rollout is not None and not self.on:
            raise ValueError(f"rollout: {self.rollout} needs on: true (a flag that is off serves nobody)")
        return self

    @property
    def gradual(self) -> bool:
        """On for part of the users only (1-99 %, or 0 % while on)."""
        return self.on and self.rollout is not None and self.rollout < 100


def _flag_setting(value: Any) -> Any:
    """A mapping is a FlagSetting, with its own error (not pydantic's three attempts at bool, str and model)."""
    if isinstance(value, dict):
        try:
            return FlagSetting.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"{where + ': ' if where else ''}{err['msg'].removeprefix('Value error, ')} "
                             "(write {on: true}, {on: false} or {on: true, rollout: 25})") from None
    return value


FlagValue = Annotated[bool | str | FlagSetting, BeforeValidator(_flag_setting)]
"""A flag's planned value: true/false, a string for the service to read, or a FlagSetting."""


class RolloutPhase(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = ""
    flags: dict[str, FlagValue] = Field(default_factory=dict)
    criteria: Criteria = Field(default_factory=Criteria)
    on_p0: Literal["rollback", "pause"] = "pause"
    requires_checks: list[str] = Field(default_factory=list)
    requires_signoff: list[str] = Field(default_factory=lambda: ["pre"])
    requires_phases: list[str] = Field(default_factory=list, description="checklist phases whose verdict must "
                                       "be GO (or conditional, if allowed) before promoting; default: all")


class Rollout(Strict):
    model_config = ConfigDict(extra="allow")
    provider: dict[str, Any] = Field(default_factory=lambda: {"kind": "dotenv", "path": ".env"})
    phases: list[RolloutPhase] = Field(default_factory=list)
    watch: dict[str, Any] = Field(default_factory=dict)
    max_check_age_minutes: float = Field(
        60.0, gt=0, description="promote only on required check results younger than this")
    allow_conditional: bool = Field(True, description="promote on GO (conditional), repeating its conditions")
    effective: dict[str, Any] | None = Field(
        None, description="what the running service reports it uses: {url, path, names} or {command}")
    apply: dict[str, Any] | None = Field(
        None, description="after writing flags: {command, timeout_seconds, settle_seconds, poll_interval_seconds}")

    def phase(self, phase_id: str) -> RolloutPhase | None:
        return next((p for p in self.phases if p.id == phase_id), None)


class FreezeWindow(Strict):
    """A release freeze: a recurring window (`cron` start + `duration`) or a date range (`start`/`end`)."""

    id: str = Field(pattern=ID_PATTERN)
    reason: str = ""
    cron: str | None = Field(None, description="when the window opens, e.g. '0 16 * * FRI' (UTC)")
    duration: str | None = Field(None, description="how long it lasts from each cron start, e.g. 64h")
    start: datetime | None = None
    end: datetime | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> FreezeWindow:
        if self.cron and self.duration and not (self.start or self.end):
            return self
        if self.start and self.end and not (self.cron or self.duration):
            if self.start.tzinfo is None or self.end.tzinfo is None:
                raise ValueError(f"freeze window {self.id}: start and end need a time zone, e.g. 2026-12-24T00:00Z")
            if self.end <= self.start:
                raise ValueError(f"freeze window {self.id}: end must be after start")
            return self
        raise ValueError(f"freeze window {self.id}: give either cron + duration (e.g. cron: '0 16 * * FRI', "
                         "duration: 64h) or start + end")


class Freeze(Strict):
    windows: list[FreezeWindow] = Field(default_factory=list)
    override_roles: list[str] = Field(default_factory=list, description="sign-off roles (`role` or `stage:role`) "
                                      "whose members may override a freeze for one promotion window")


class Checklist(Strict):
    name: str
    service: str = ""
    version: str = ""
    settings: SettingsSource = Field(default_factory=SettingsSource)
    vars: dict[str, str] = Field(default_factory=dict, description="defaults for ${VAR} interpolation")
    target: Target = Field(default_factory=Target)
    phases: list[PhaseSpec] = Field(min_length=1)
    signoffs: dict[str, SignoffStage] = Field(default_factory=dict)
    rollout: Rollout | None = None
    freeze: Freeze = Field(default_factory=Freeze)
    demo: bool = Field(False, description="start the bundled demo target before running")
    read_only: bool = Field(False, description=(
        "golive writes nothing on this target: every check that writes (`mutates:`, inferred or explicit) "
        "is n/a, with the reason"))
    production: Production = Field(default_factory=lambda: Production(), description=(
        "what production means for this service: guards present these settings to scripts"))
    source_path: str = Field("", exclude=True)

    @field_validator("vars", mode="before")
    @classmethod
    def _stringify_vars(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                    for k, v in value.items()}
        return value

    def all_checks(self) -> list[CheckSpec]:
        return [check for phase in self.phases for check in phase.checks]

    def check(self, check_id: str) -> CheckSpec | None:
        return next((c for c in self.all_checks() if c.id == check_id), None)

    def phase(self, phase_id: str) -> PhaseSpec | None:
        return next((p for p in self.phases if p.id == phase_id), None)
