"""Break-glass: a CLI action taken without the access table, for the day chat (and so the mapping to
chat ids, or the people who hold the roles) cannot be reached. It is never silent:

- audited as `break_glass` with the OS user, the host, the mapped chat id if any and the reason;
- recorded in `break_glass` and announced in the release channel as soon as golive can post
  (at once from the CLI when a transport is configured; otherwise the serving bot posts it on start
  and on every sweep until one transport took it);
- listed by `golive status` until someone holding a sign-off role, other than whoever broke the glass,
  acknowledges it (`golive acknowledge <id>`, chat `acknowledge <id>`).

Break-glass skips *who may*; the promotion gate (checks, sign-offs, freezes) still applies.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from bot.announcements.events import ChannelNotice, Notifier
from bot.authority.identity import CliIdentity
from bot.store import Store
from bot.store.store import now_iso
from checks.masking import masker

log = logging.getLogger("golive.breakglass")
MAX_REASON = 500


class BreakGlassError(ValueError):
    """Bad break-glass input or acknowledgement; the message says what to do."""


@dataclass(frozen=True)
class BreakGlass:
    id: str
    checklist: str
    verb: str
    os_user: str
    host: str
    chat_user: str
    reason: str
    at: str
    announced_at: str | None = None
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None

    def text(self) -> str:
        who = f"{self.os_user}@{self.host}" + (f" ({self.chat_user})" if self.chat_user else "")
        return f"🔨 break-glass {self.id}: `{self.verb}` on {self.checklist} by {who} at {self.at[:19]}Z: {self.reason}"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> BreakGlass:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


def record(store: Store, checklist: str, verb: str, identity: CliIdentity, reason: str) -> BreakGlass:
    reason = reason.strip()
    if not reason:
        raise BreakGlassError('--break-glass needs a reason, e.g. --break-glass "Slack is down, incident INC-42"')
    if len(reason) > MAX_REASON:
        raise BreakGlassError(f"the break-glass reason is longer than {MAX_REASON} characters: say it shorter")
    item = BreakGlass(id=uuid.uuid4().hex[:8], checklist=checklist, verb=verb, os_user=identity.os_user,
                      host=identity.host, chat_user=identity.chat_ids[0] if identity.chat_ids else "",
                      reason=masker.mask(reason), at=now_iso())
    store.db.execute("INSERT INTO break_glass (id, checklist, verb, os_user, host, chat_user, reason, at, service) "
                     "VALUES (:id, :checklist, :verb, :os_user, :host, :chat_user, :reason, :at, :service)",
                     {"service": store.service, **{k: getattr(item, k) for k in (
                         "id", "checklist", "verb", "os_user", "host", "chat_user", "reason", "at")}})
    store.audit(actor=item.chat_user or f"os:{identity.who}", action="break_glass", subject=checklist,
                detail={"id": item.id, "verb": verb, "reason": item.reason, "transport": "cli", **identity.detail()})
    return item


def unacknowledged(store: Store, checklist: str | None = None) -> list[BreakGlass]:
    """The store's service's break-glass actions nobody acknowledged yet (of one checklist, when named)."""
    where = "service = :s AND acknowledged_at IS NULL" + (" AND checklist = :c" if checklist else "")
    rows = store.db.fetchall(f"SELECT * FROM break_glass WHERE {where} ORDER BY at",
                             {"c": checklist, "s": store.service})
    return [BreakGlass.from_row(r) for r in rows]


def unacknowledged_notes(store: Store, checklist: str) -> list[str]:
    """What the status shows, in every transport and the terminal, until a role holder acknowledges it."""
    return [f"{b.text()} — not acknowledged yet: `golive acknowledge {b.id}` (in chat: `acknowledge {b.id}`)"
            for b in unacknowledged(store, checklist)]


def get(store: Store, item_id: str) -> BreakGlass | None:
    row = store.db.fetchone("SELECT * FROM break_glass WHERE id = :id AND service = :s",
                            {"id": item_id, "s": store.service})
    return BreakGlass.from_row(row) if row else None


def acknowledge(store: Store, item_id: str, *, by: str, transport: str) -> BreakGlass:
    """Stamp the acknowledgement (once); the caller checked the role. The one who broke the glass may not."""
    item = get(store, item_id)
    if item is None:
        raise BreakGlassError(f"no break-glass action {item_id!r}: `golive status` lists the open ones")
    if item.acknowledged_at:
        raise BreakGlassError(f"break-glass {item_id} was already acknowledged by {item.acknowledged_by}")
    if by == item.chat_user:
        raise BreakGlassError(f"you broke the glass on {item_id}: someone else holding a sign-off role must "
                              "acknowledge it")
    changed = store.db.execute("UPDATE break_glass SET acknowledged_at = :at, acknowledged_by = :by "
                               "WHERE id = :id AND acknowledged_at IS NULL",
                               {"at": now_iso(), "by": masker.mask(by), "id": item_id})
    if not changed:
        raise BreakGlassError(f"break-glass {item_id} was just acknowledged by someone else")
    store.audit(actor=by, action="break_glass.acknowledged", subject=item.checklist,
                detail={"id": item_id, "verb": item.verb, "os_user": item.os_user, "transport": transport})
    updated = get(store, item_id)
    assert updated is not None
    return updated


async def announce_pending(store: Store, notifier: Notifier) -> int:
    """Post every break-glass action not yet announced, whichever service it was taken on (each names its
    checklist); those a transport took are stamped. Returns how many were announced now (0 when no
    transport could post: the next call tries again)."""
    rows = await asyncio.to_thread(store.db.fetchall,
                                   "SELECT * FROM break_glass WHERE announced_at IS NULL ORDER BY at")
    done = 0
    for item in (BreakGlass.from_row(r) for r in rows):
        notice = ChannelNotice(kind="break_glass", text=item.text() + " — acknowledge with `acknowledge "
                               f"{item.id}` (a sign-off role holder)", subject=f"break_glass:{item.id}",
                               purpose="announce")
        try:
            await notifier.publish(notice)
        except Exception as exc:  # the record stays pending; the next sweep tries again
            log.warning("announcing break-glass %s failed: %s", item.id, masker.mask(str(exc)))
            continue
        if notice.delivered:
            await asyncio.to_thread(store.db.execute, "UPDATE break_glass SET announced_at = :at WHERE id = :id "
                                    "AND announced_at IS NULL", {"at": now_iso(), "id": item.id})
            done += 1
    return done
