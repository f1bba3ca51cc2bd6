"""What is running degraded right now, and why: the process-wide list that `/golive status` and
/healthz/ready show. Each component's transition is logged once (a warning when it starts, an info line
when it ends), not on every call, so an outage does not flood the log."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from checks.masking import mask

log = logging.getLogger("golive.degrade")


@dataclass
class Degradation:
    component: str
    message: str
    since: float = field(default_factory=time.time)


class Degradations:
    """What is running degraded right now. Transitions are logged once, not on every call."""

    def __init__(self) -> None:
        self._active: dict[str, Degradation] = {}

    def degrade(self, component: str, message: str, *, cause: str = "") -> bool:
        """Mark `component` degraded; True (and a warning logged) only on the transition."""
        if component in self._active:
            return False
        self._active[component] = Degradation(component, message)
        log.warning("%s", message, extra={"component": component, "event": "degraded", "cause": mask(cause)})
        return True

    def recover(self, component: str, message: str = "") -> bool:
        """Clear `component`; True (and an info line logged) only on the transition."""
        gone = self._active.pop(component, None)
        if gone is None:
            return False
        log.info("%s", message or f"{component} is back", extra={
            "component": component, "event": "recovered", "degraded_s": round(time.time() - gone.since, 1)})
        return True

    def active(self) -> dict[str, str]:
        return {name: d.message for name, d in self._active.items()}

    def messages(self) -> list[str]:
        """One line per degraded component, for status replies."""
        return [d.message for d in self._active.values()]

    def clear(self) -> None:
        self._active.clear()


degradations = Degradations()
"""The process-wide registry; status and readiness read it."""
