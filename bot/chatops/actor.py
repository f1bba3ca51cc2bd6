"""Who is asking, as every transport can say it: a user id and the transport it belongs to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: str
    transport: str  # "slack", "teams", "cli"

    def __str__(self) -> str:
        return self.user_id
