"""The result model every check produces, and the small enums it is built from."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

MAX_EVIDENCE_BYTES = 64 * 1024
"""A stored result's evidence, as JSON, is at most this big; more is cut with an honest marker."""
MAX_SUMMARY_CHARS = 4000


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


def _json_size(value: Any) -> int:
    try:
        return len(json.dumps(value, default=str).encode())  # as the store writes it
    except (ValueError, TypeError, RecursionError):  # circular or absurdly deep: treat as too big
        return 1 << 62


def truncated_text(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, saying how big it was."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"… truncated ({len(text.encode(errors='replace'))} bytes)"


def _shrink(value: Any, text_limit: int, items: int, depth: int = 0) -> Any:
    if depth > 12:
        return f"… truncated ({_json_size(value)} bytes)"
    if isinstance(value, str):
        return truncated_text(value, text_limit)
    if isinstance(value, dict):
        keys = list(value)
        out = {str(k): _shrink(value[k], text_limit, items, depth + 1) for k in keys[:items]}
        if len(keys) > items:
            out["…"] = f"truncated ({len(keys) - items} more keys)"
        return out
    if isinstance(value, list | tuple):
        head = [_shrink(v, text_limit, items, depth + 1) for v in value[:items]]
        if len(value) > items:
            head.append(f"… truncated ({len(value) - items} more items)")
        return head
    return value


def bound_evidence(evidence: dict[str, Any], limit: int = MAX_EVIDENCE_BYTES) -> dict[str, Any]:
    """Evidence whose JSON fits in `limit` bytes: as it is when it fits; otherwise long texts and lists are
    cut (more each round) and `evidence_truncated` says how big it was. Masking has already happened."""
    size = _json_size(evidence)
    if size <= limit:
        return evidence
    marker = f"… truncated ({size} bytes)"
    for text_limit, items in ((8192, 200), (2048, 50), (512, 20), (128, 5)):
        shrunk = _shrink(evidence, text_limit, items)
        shrunk["evidence_truncated"] = marker
        if _json_size(shrunk) <= limit:
            return dict(shrunk)
    return {"evidence_truncated": marker, "keys": [str(k)[:100] for k in list(evidence)[:50]]}


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

    @field_validator("summary")
    @classmethod
    def _bounded_summary(cls, value: str) -> str:
        return truncated_text(value, MAX_SUMMARY_CHARS)

    @field_validator("evidence")
    @classmethod
    def _bounded_evidence(cls, value: dict[str, Any]) -> dict[str, Any]:
        """One place for every result, whichever kind built it: what is stored and shown stays small."""
        return bound_evidence(value)

    @property
    def icon(self) -> str:
        return STATUS_ICON[self.status]

    def line(self) -> str:
        return f"{self.icon} {self.check_id} — {self.summary}"
