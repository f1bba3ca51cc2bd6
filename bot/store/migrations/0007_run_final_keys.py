"""0007: the "this run's message shows its final state" markers kept under each transport's old key
(`slack:run-final:<run>`, `teams:run:<run>:final`) are renamed to the one key the conversation layer
reads (`run-final:<transport>:<run>`, bot.conversation.follower.FINAL_KEY), so the old names can go
from the code without an upgraded bot repainting a finished message."""

from __future__ import annotations

from bot.store.db import Database

_SLACK = "slack:run-final:"
_TEAMS = ("teams:run:", ":final")


def new_key(key: str) -> str | None:
    """The current name of a legacy final-state key; None when `key` is not one."""
    if key.startswith(_SLACK):
        return f"run-final:slack:{key[len(_SLACK):]}"
    head, tail = _TEAMS
    if key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail):
        return f"run-final:teams:{key[len(head):-len(tail)]}"
    return None


def upgrade(db: Database) -> None:
    rows = db.fetchall("SELECT key, value, updated_at FROM kv WHERE key LIKE :slack OR key LIKE :teams",
                       {"slack": f"{_SLACK}%", "teams": f"{_TEAMS[0]}%{_TEAMS[1]}"})  # bound: ':' is a placeholder
    for row in rows:
        renamed = new_key(row["key"])
        if renamed is None:
            continue
        db.execute("INSERT INTO kv (key, value, updated_at) VALUES (:key, :value, :at) ON CONFLICT (key) DO NOTHING",
                   {"key": renamed, "value": row["value"], "at": row["updated_at"]})
        db.execute("DELETE FROM kv WHERE key = :key", {"key": row["key"]})
