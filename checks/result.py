"""The result model every check produces, and the small enums it is built from."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    ERROR = "error"
    PENDING = "pending"  # never run, or awaiting a person (e.g. a manual confirmation)
    NA = "n/a"  # its `when:` does not hold for this target: not part of the verdict

    @property
    def ok(self) -> bool:
        return self is Status.PASS


class Criticality(StrEnum):
    """How much a check weighs in the verdict: critical blocks Go, high/medium make it conditional."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


STATUS_ICON = {
    Status.PASS: "✅",
    Status.FAIL: "❌",
    Status.WARN: "⚠️",
    Status.SKIP: "⏭️",
    Status.ERROR: "💥",
    Status.PENDING: "⏳",
    Status.NA: "🚫",
}


class Outcome(BaseModel):
    """What a check kind returns: the runner adds identity, timing and masking."""

    status: Status
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict, exclude=True)
    needs_confirmation: bool = False

    @classmethod
    def passed(cls, summary: str, **evidence: Any) -> Outcome:
        return cls(status=Status.PASS, summary=summary, evidence=evidence)

    @classmethod
    def failed(cls, summary: str, **evidence: Any) -> Outcome:
        return cls(status=Status.FAIL, summary=summary, evidence=evidence)

    @classmethod
    def warned(cls, summary: str, **evidence: Any) -> Outcome:
        return cls(status=Status.WARN, summary=summary, evidence=evidence)

    @classmethod
    def skipped(cls, summary: str, **evidence: Any) -> Outcome:
        return cls(status=Status.SKIP, summary=summary, evidence=evidence)

    @classmethod
    def not_applicable(cls, summary: str, **evidence: Any) -> Outcome:
        return cls(status=Status.NA, summary=summary, evidence=evidence)


def server_error_status(evidence: Any) -> int | None:
    """The first HTTP 5xx status found anywhere in a check's evidence (`status`, `status_code`, or a
    `statuses` histogram), so a check can weigh more when the target answers with a server error."""
    if isinstance(evidence, dict):
        for key, value in evidence.items():
            if key in ("status", "status_code") and isinstance(value, int) and 500 <= value <= 599:
                return value
            if key == "statuses" and isinstance(value, dict):
                for code in value:
                    if str(code).isdigit() and 500 <= int(code) <= 599:
                        return int(code)
            found = server_error_status(value)
            if found is not None:
                return found
    elif isinstance(evidence, list):
        for item in evidence:
            found = server_error_status(item)
            if found is not None:
                return found
    return None


def utcnow() -> datetime:
    return datetime.now(UTC)


class CheckResult(BaseModel):
    """One check's result, as stored, rendered and judged. All text is already masked."""

    check_id: str
    title: str = ""
    kind: str
    phase: str = ""
    criticality: Criticality
    status: Status
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    duration_ms: float = 0.0
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime = Field(default_factory=utcnow)
    needs_confirmation: bool = False

    @property
    def icon(self) -> str:
        return STATUS_ICON[self.status]

    def line(self) -> str:
        return f"{self.icon} {self.check_id} — {self.summary}"
