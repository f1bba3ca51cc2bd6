"""One line per item `golive doctor` looked at: ok, warn or FAIL, what it found, and the fix."""

from __future__ import annotations

from dataclasses import dataclass

from checks.masking import scrub


@dataclass(frozen=True)
class Finding:
    item: str
    level: str  # "ok" | "warn" | "FAIL"
    detail: str
    fix: str = ""

    @classmethod
    def ok(cls, item: str, detail: str) -> Finding:
        return cls(item, "ok", detail)

    @classmethod
    def warn(cls, item: str, detail: str, fix: str = "") -> Finding:
        return cls(item, "warn", detail, fix)

    @classmethod
    def fail(cls, item: str, detail: str, fix: str = "") -> Finding:
        return cls(item, "FAIL", detail, fix)

    def line(self) -> str:
        fix = f" → {self.fix}" if self.fix and self.level != "ok" else ""
        return scrub(f"{self.level:<4}  {self.item}: {self.detail}{fix}")  # our sentence; details are masked at source
