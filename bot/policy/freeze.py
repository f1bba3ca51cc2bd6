"""Release freezes: the checklist's `freeze.windows` (recurring cron windows or date ranges) and ad-hoc
ones (`golive freeze --until ... --reason ...`). During a freeze the promotion gate refuses, naming the
window, unless someone holding a role the checklist names (`freeze.override_roles`) signed an override
for that occurrence of the window. Declaring, lifting and overriding are recorded and audited.

Freezes are kept per service (the service of the store, bot.store.Store.for_service), beside *global* ones
(service `*`, `FreezeService(..., global_scope=True)`) that hold every service's promotions. A service's
override signs off its own promotions past a freeze in force, global or not; a global override, all of them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.access import is_member
from bot.chatops.actor import Actor
from bot.chatops.directory import Directory, StaticDirectory
from bot.policy.waivers import WaiverError, parse_duration
from bot.serving.scheduler import cron_trigger
from bot.signoff.service import stages
from bot.store import Store
from bot.store.store import now_iso, parse_time
from checks.masking import masker
from checks.spec import Checklist, FreezeWindow

GLOBAL = "*"
"""The service key of a freeze that holds every service."""


class FreezeError(ValueError):
    """Bad freeze input (a time that cannot be read, no reason); the message says what to do."""


class FreezeRefused(FreezeError):
    """Not allowed: not in an override role, nothing frozen to override or lift."""


@dataclass(frozen=True)
class ActiveFreeze:
    key: str  # one occurrence: "window:<id>:<start>" or "adhoc:<row id>"
    name: str
    starts: datetime
    until: datetime
    reason: str

    def text(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"release freeze {self.name} until {self.until:%Y-%m-%d %H:%M} UTC{why}"


def parse_until(text: str, now: datetime) -> datetime:
    """'2h', '3d' from now, or an ISO time ('2026-12-01T08:00Z'; without a zone it is UTC)."""
    try:
        return now + parse_duration(text)
    except WaiverError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FreezeError(f"--until {text!r} not understood: a duration (2h, 3d) or a UTC time "
                          "(2026-12-01T08:00Z)") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= now:
        raise FreezeError(f"--until {text} is in the past")
    return when


def window_occurrence(window: FreezeWindow, now: datetime) -> tuple[datetime, datetime] | None:
    """The occurrence of `window` that contains `now`, if any."""
    if window.start and window.end:
        return (window.start, window.end) if window.start <= now < window.end else None
    assert window.cron and window.duration
    span = parse_duration(window.duration)
    start = cron_trigger(window.cron).get_next_fire_time(None, now - span + timedelta(microseconds=1))
    return (start, start + span) if start is not None and start <= now else None


class FreezeService:
    """Synchronous store access for one checklist's freezes (async callers use asyncio.to_thread): those of
    the store's service plus the global ones. With `global_scope`, the global freezes themselves: declared,
    lifted and overridden for every service (the checklist then only names who may override)."""

    def __init__(self, store: Store, checklist: Checklist, *, global_scope: bool = False) -> None:
        self.global_scope = global_scope
        self.store = store.for_service(GLOBAL) if global_scope else store
        self.scope = self.store.service
        self.checklist = checklist
        for window in checklist.freeze.windows:  # a bad cron or duration fails here, named
            try:
                if window.cron:
                    cron_trigger(window.cron)
                    parse_duration(window.duration or "")
            except (ValueError, WaiverError) as exc:
                raise FreezeError(f"{checklist.source_path or checklist.name}: freeze window {window.id}: "
                                  f"{exc}") from None

    # -- reading ---------------------------------------------------------------------------------
    def active(self, now: datetime | None = None) -> list[ActiveFreeze]:
        now = now or datetime.now(UTC)
        found = []
        for window in () if self.global_scope else self.checklist.freeze.windows:
            occurrence = window_occurrence(window, now)
            if occurrence:
                found.append(ActiveFreeze(f"window:{window.id}:{occurrence[0].isoformat()}", window.id,
                                          occurrence[0], occurrence[1], window.reason))
        for row in self._rows("adhoc"):
            starts, until = parse_time(row["starts_at"]), parse_time(row["until_at"])
            assert starts is not None and until is not None
            if starts <= now < until:
                found.append(ActiveFreeze(f"adhoc:{row['id']}", _declared(row["created_by"], row["service"]),
                                          starts, until, row["reason"]))
        return found

    def overridden(self, freeze: ActiveFreeze) -> dict[str, str] | None:
        rows = [r for r in self._rows("override") if r["window_id"] == freeze.key]
        return rows[-1] if rows else None

    def blocking(self, now: datetime | None = None) -> list[str]:
        """What the gate says for every freeze in force without an override."""
        roles = ", ".join(self.checklist.freeze.override_roles) or "none named (freeze.override_roles)"
        return [f"{f.text()}; an override needs a sign-off by {roles} (`golive freeze --override --reason <why>`, "
                "or `freeze override <why>` in chat)"
                for f in self.active(now) if self.overridden(f) is None]

    # -- changing --------------------------------------------------------------------------------
    def declare(self, until: datetime, reason: str, *, by: str, transport: str = "cli",
                now: datetime | None = None) -> ActiveFreeze:
        if not reason.strip():
            raise FreezeError("a freeze needs a reason, e.g. --reason 'quarter-end close'")
        now = now or datetime.now(UTC)
        row_id = uuid.uuid4().hex[:12]
        self._insert(row_id, "adhoc", "", now, until, reason, by)
        self.store.audit(actor=by, action="freeze.declared", subject=self._subject,
                         detail={"id": row_id, "until": until.isoformat(), "reason": reason, "transport": transport})
        return ActiveFreeze(f"adhoc:{row_id}", _declared(masker.mask(by), self.scope), now, until, reason)

    async def lift(self, actor: Actor, *, directory: Directory | None = None, now: datetime | None = None,
                   break_glass: str | None = None) -> list[str]:
        """Lift the declared freezes in force that `actor` may lift: the ones they declared, or every one
        when they hold a `freeze.override_roles` role (or act by the break-glass record `break_glass`).
        Someone else's freeze is refused, and audited."""
        now = now or datetime.now(UTC)
        live = [row for row in self._rows("adhoc") if row["service"] == self.scope  # a global one is lifted globally
                and (parse_time(row["starts_at"]) or now) <= now < (parse_time(row["until_at"]) or now)]
        if not live:
            held = not self.global_scope and any(row["service"] == GLOBAL for row in self._rows("adhoc"))
            also = "; the freeze in force holds every service: lift it as a global freeze" if held else ""
            raise FreezeRefused("no declared freeze is in force (checklist windows are lifted by an override)"
                                + also)
        role = f"break-glass {break_glass}" if break_glass else \
            await self.override_role(actor, directory or StaticDirectory())
        mine = masker.mask(actor.user_id)
        allowed = live if role is not None else [row for row in live if row["created_by"] == mine]
        if not allowed:
            others = ", ".join(sorted({row["created_by"] for row in live}))
            roles = ", ".join(self.checklist.freeze.override_roles) or "none named (freeze.override_roles)"
            self.store.audit(actor=actor.user_id, action="freeze.lift_refused", subject=self._subject,
                             detail={"reason": "not the declarer nor an override role", "declared_by": others,
                                     "transport": actor.transport})
            raise FreezeRefused(f"the freeze was declared by {others}: only they, or a member of the override "
                                f"roles ({roles}), may lift it")
        for row in allowed:
            self.store.db.execute("UPDATE freezes SET lifted_at = :at, lifted_by = :by WHERE id = :id",
                                  {"at": now_iso(), "by": mine, "id": row["id"]})
        keys = [f"adhoc:{row['id']}" for row in allowed]
        self.store.audit(actor=actor.user_id, action="freeze.lifted", subject=self._subject,
                         detail={"freezes": keys, "as": role or "declarer", "transport": actor.transport})
        return keys

    async def override(self, actor: Actor, reason: str, *, directory: Directory | None = None,
                       now: datetime | None = None) -> list[ActiveFreeze]:
        """Sign an override of every freeze in force; only members of `freeze.override_roles` may."""
        now = now or datetime.now(UTC)
        subject = self._subject
        role = await self.override_role(actor, directory or StaticDirectory())
        if role is None:
            roles = ", ".join(self.checklist.freeze.override_roles) or "none: add freeze.override_roles"
            self.store.audit(actor=actor.user_id, action="freeze.override_refused", subject=subject,
                             detail={"reason": "not in an override role", "transport": actor.transport})
            raise FreezeRefused(f"only members of the override roles ({roles}) may override a release freeze")
        if not reason.strip():
            raise FreezeError("an override needs a reason, e.g. --reason 'security fix, approved by the CTO'")
        frozen = [f for f in self.active(now) if self.overridden(f) is None]
        if not frozen:
            raise FreezeRefused("no release freeze is in force: nothing to override")
        for freeze in frozen:
            self._insert(uuid.uuid4().hex[:12], "override", freeze.key, now, freeze.until, reason, actor.user_id)
        self.store.audit(actor=actor.user_id, action="freeze.overridden", subject=subject,
                         detail={"freezes": [f.key for f in frozen], "role": role, "reason": reason,
                                 "transport": actor.transport})
        return frozen

    async def override_role(self, actor: Actor, directory: Directory) -> str | None:
        for name, stage in stages(self.checklist).items():
            for role in stage.roles:
                if (role.id in self.checklist.freeze.override_roles
                        or f"{name}:{role.id}" in self.checklist.freeze.override_roles) \
                        and await is_member(role, actor.user_id, directory):
                    return f"{name}:{role.id}"
        return None

    # -- rows ------------------------------------------------------------------------------------
    @property
    def _subject(self) -> str:
        """What the audit names: the checklist, or for a global freeze every service (`*/freeze`)."""
        return "freeze" if self.global_scope else self.checklist.name

    def _insert(self, row_id: str, kind: str, window: str, starts: datetime, until: datetime, reason: str,
                by: str) -> None:
        self.store.db.execute(
            "INSERT INTO freezes (id, checklist, kind, window_id, starts_at, until_at, reason, created_by, "
            "created_at, service) VALUES (:id, :c, :kind, :w, :s, :u, :r, :by, :at, :service)",
            {"id": row_id, "c": GLOBAL if self.global_scope else self.checklist.name, "service": self.scope,
             "kind": kind, "w": window, "s": starts.isoformat(),
             "u": until.isoformat(), "r": masker.mask(reason.strip()), "by": masker.mask(by), "at": now_iso()})

    def _rows(self, kind: str) -> list[dict[str, str]]:
        """This service's rows of `kind` not lifted, and the global ones (only those, in global scope)."""
        mine = "" if self.global_scope else "(service = :service AND checklist = :c) OR "
        return self.store.db.fetchall(
            f"SELECT * FROM freezes WHERE ({mine}service = :all) AND kind = :k AND lifted_at IS NULL "
            "ORDER BY created_at", {"c": self.checklist.name, "k": kind, "service": self.scope, "all": GLOBAL})


def _declared(by: str, service: str) -> str:
    return f"declared by {by}" + (" for every service" if service == GLOBAL else "")


def freeze_reasons(store: Store, checklist: Checklist, now: datetime | None = None) -> list[str]:
    return FreezeService(store, checklist).blocking(now)


__all__ = ["GLOBAL", "ActiveFreeze", "FreezeError", "FreezeRefused", "FreezeService", "freeze_reasons", "parse_until"]
