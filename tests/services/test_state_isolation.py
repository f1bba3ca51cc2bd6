"""No cross-talk between services that share one store and one lock backend (bot.services.state.scoped).

Two services, alpha and bravo, each with a checklist of its own (both named `shop`, so only the service
keeps them apart) and a dotenv flag file of its own, on one real store (SQLite and PostgreSQL) and one
Redis: sign-offs, waivers, freezes, runs, rollout state, incidents, locks and leases of one are never
seen by the other; a global freeze is seen by both; the default service keeps today's names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import yaml

from bot.announcements.events import RecordingNotifier
from bot.chatops.actor import Actor
from bot.coordination.locks import LocalLocks, Locks, RedisLocks
from bot.policy.freeze import GLOBAL, FreezeRefused, FreezeService
from bot.policy.waivers import WaiverService
from bot.rollout import RolloutRuntime
from bot.rollout.incidents import Incident
from bot.rollout.lease import LeaderLease
from bot.rollout.records import RolloutRecords
from bot.services.registry import Service
from bot.services.state import scoped
from bot.signoff.service import SignoffService
from bot.store import Store, open_store
from checks.loader import load_checklist
from checks.result import CheckResult, Criticality, Status
from checks.spec import Checklist
from tests.conftest import PG_URL

ENV = 'APP_SEARCH="false"\nAPP_EXPORT=false\nKEEP=1\n'


def checklist_data() -> dict[str, object]:
    return {
        "name": "shop",  # the same checklist name in both services: only the service tells them apart
        "target": {"base_url": "http://127.0.0.1:9"},
        "phases": [{"id": "day1", "checks": [
            {"id": "smoke", "kind": "env", "criticality": "critical", "params": {"var": "SMOKE"}},
            {"id": "cache", "kind": "env", "criticality": "high", "params": {"var": "CACHE"}}]}],
        "signoffs": {"pre": {"title": "Before", "roles": [
            {"id": "tech_lead", "title": "Tech Lead", "members": ["U_TL"]},
            {"id": "devops_lead", "title": "DevOps Lead", "members": ["U_OPS"]}]}},
        "freeze": {"override_roles": ["tech_lead"]},
        "rollout": {"provider": {"kind": "dotenv", "path": "target.env"}, "phases": [
            {"id": "phase-1", "flags": {"APP_SEARCH": True}, "requires_checks": ["smoke"]},
            {"id": "phase-2", "flags": {"APP_SEARCH": True, "APP_EXPORT": True}, "requires_checks": ["smoke"]}]},
    }


@dataclass
class Svc:
    """One service as the bot holds it: its registry entry, checklist, store view and lock view."""

    service: Service
    checklist: Checklist
    store: Store
    locks: Locks
    env_file: Path


def make_service(root: Path, name: str, store: Store, locks: Locks, *, default: bool = False) -> Svc:
    folder = root / name
    folder.mkdir()
    (folder / "shop.yml").write_text(yaml.safe_dump(checklist_data(), sort_keys=False))
    (folder / "target.env").write_text(ENV)
    service = Service(name=name, checklist_path=folder / "shop.yml", default=default)
    view, service_locks = scoped(store, locks, service)
    return Svc(service, load_checklist(folder / "shop.yml"), view, service_locks, folder / "target.env")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = open_store(None, sqlite_path=tmp_path / "golive.db")
    else:
        opened = open_store(PG_URL, schema=request.getfixturevalue("pg_schema"))
    yield opened
    opened.close()


@pytest.fixture
def two(store: Store, tmp_path: Path) -> tuple[Svc, Svc]:
    locks = LocalLocks()
    return make_service(tmp_path, "alpha", store, locks), make_service(tmp_path, "bravo", store, locks)


def passed(store: Store, checklist: Checklist, *check_ids: str) -> None:
    """A finished run of this service in which the named checks passed just now."""
    run = store.create_run(checklist=checklist.name, selector="day1", expected=checklist.all_checks())
    now = datetime.now(UTC)
    for check_id in check_ids:
        store.add_result(run.id, CheckResult(check_id=check_id, kind="env", phase="day1", status=Status.PASS,
                                             criticality=Criticality.CRITICAL, summary="ok", started_at=now,
                                             finished_at=now))


def sign_pre(svc: Svc) -> str:
    service = SignoffService(svc.store, svc.checklist)
    request = service.open_request("pre", requested_by="U_REL")
    assert service.record(request.id, "tech_lead", "approve", user_id="U_TL")
    assert service.record(request.id, "devops_lead", "approve", user_id="U_OPS")
    return request.id


def test_a_sign_off_recorded_for_one_service_never_counts_for_the_other(two: tuple[Svc, Svc]) -> None:
    alpha, bravo = two
    request_id = sign_pre(alpha)
    assert SignoffService(alpha.store, alpha.checklist).state().missing == []
    bravo_signoffs = SignoffService(bravo.store, bravo.checklist)
    assert bravo_signoffs.state().missing == ["pre:tech_lead", "pre:devops_lead"]
    assert bravo_signoffs.latest("pre") is None and bravo_signoffs.get(request_id) is None
    with pytest.raises(LookupError, match=r"no sign-off request \w+ in this service"):  # alpha's card, bravo's click
        bravo_signoffs.record(request_id, "tech_lead", "reject", user_id="U_TL", reason="wrong service")
    assert not bravo_signoffs.withdraw(request_id, "tech_lead", user_id="U_TL")
    assert SignoffService(alpha.store, alpha.checklist).state().approved == {"pre:tech_lead": "U_TL",
                                                                            "pre:devops_lead": "U_OPS"}


def test_runs_and_latest_results_are_the_services_own(two: tuple[Svc, Svc]) -> None:
    alpha, bravo = two
    passed(alpha.store, alpha.checklist, "smoke")
    assert set(alpha.store.latest_results("shop")) == {"smoke"} and bravo.store.latest_results("shop") == {}
    assert len(alpha.store.runs(checklist="shop")) == 1 and bravo.store.runs(checklist="shop") == []
    alpha_runs = {r.id for r in alpha.store.runs(status="running")}  # left running, heartbeat expired below
    assert bravo.store.reap_expired_runs(-1.0) == []  # bravo's reaper never interrupts alpha's runs
    assert {r.id for r in alpha.store.reap_expired_runs(-1.0)} == alpha_runs and len(alpha_runs) == 1


def test_a_waiver_or_freeze_of_one_service_is_not_seen_by_the_other(two: tuple[Svc, Svc]) -> None:
    alpha, bravo = two
    now = datetime.now(UTC)
    WaiverService(alpha.store, alpha.checklist).grant("cache", "2h", "warms after deploy", by="U_TL", now=now)
    assert [w.check_id for w in WaiverService(alpha.store, alpha.checklist).active(now)] == ["cache"]
    assert WaiverService(bravo.store, bravo.checklist).active(now) == []
    FreezeService(alpha.store, alpha.checklist).declare(now + timedelta(hours=2), "quarter close", by="U_REL",
                                                        now=now)
    assert len(FreezeService(alpha.store, alpha.checklist).blocking(now)) == 1
    assert FreezeService(bravo.store, bravo.checklist).blocking(now) == []


async def test_a_global_freeze_holds_every_service_and_only_a_global_lift_ends_it(two: tuple[Svc, Svc],
                                                                                   store: Store) -> None:
    alpha, bravo = two
    now = datetime.now(UTC)
    everywhere = FreezeService(alpha.store, alpha.checklist, global_scope=True)
    everywhere.declare(now + timedelta(hours=1), "company-wide change freeze", by="U_CTO", now=now)
    for svc in (alpha, bravo):
        [reason] = FreezeService(svc.store, svc.checklist).blocking(now)
        assert "declared by U_CTO for every service" in reason and "company-wide change freeze" in reason
    assert len(FreezeService(store, alpha.checklist).blocking(now)) == 1  # the default service too
    # alpha's override lets alpha through, and only alpha
    overridden = await FreezeService(alpha.store, alpha.checklist).override(Actor("U_TL", "slack"), "hotfix",
                                                                            now=now)
    assert [f.name for f in overridden] == ["declared by U_CTO for every service"]
    assert FreezeService(alpha.store, alpha.checklist).blocking(now) == []
    assert len(FreezeService(bravo.store, bravo.checklist).blocking(now)) == 1
    with pytest.raises(FreezeRefused, match="holds every service: lift it as a global freeze"):
        await FreezeService(bravo.store, bravo.checklist).lift(Actor("U_TL", "slack"), now=now)
    assert await everywhere.lift(Actor("U_CTO", "cli"), now=now)  # the declarer lifts it, for everyone
    assert FreezeService(bravo.store, bravo.checklist).blocking(now) == []
    subjects = [row["subject"] for row in store.audit_log(limit=10) if row["action"].startswith("freeze.")]
    assert subjects == ["*/freeze", "alpha/shop", "*/freeze"]
    assert {row["service"] for row in store.db.fetchall("SELECT service FROM freezes")} == {GLOBAL, "alpha"}


async def test_locks_of_one_selector_in_two_services_do_not_block_each_other(two: tuple[Svc, Svc],
                                                                            store: Store) -> None:
    alpha, bravo = two
    default = make_service(Path(alpha.env_file).parent.parent, "main", store, alpha.locks.inner,  # type: ignore[attr-defined]  # a ServiceLocks
                           default=True)
    assert await alpha.locks.acquire("day1", "run-a")
    assert await bravo.locks.acquire("day1", "run-b")  # the same selector, another service
    assert await default.locks.acquire("day1", "run-main")
    assert not await alpha.locks.acquire("day1", "run-a2")  # within a service a lock still holds
    assert await alpha.locks.holder("day1") == "run-a" and await bravo.locks.holder("day1") == "run-b"
    assert await alpha.locks.claim_once("click-1") and await bravo.locks.claim_once("click-1")
    assert not await bravo.locks.claim_once("click-1")


async def test_redis_locks_leases_and_incidents_are_keyed_by_service(redis_locks: RedisLocks, store: Store,
                                                                    tmp_path: Path) -> None:
    alpha = make_service(tmp_path, "alpha", store, redis_locks)
    bravo = make_service(tmp_path, "bravo", store, redis_locks)
    main = make_service(tmp_path, "main", store, redis_locks, default=True)
    assert main.locks is redis_locks and main.store is store  # the default service: today's names, no wrapper
    for svc in (alpha, bravo, main):
        assert await svc.locks.acquire("day1", f"run-{svc.service.name}")
    client: aioredis.Redis = redis_locks.client
    prefix = redis_locks.prefix
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in await client.keys(prefix + "lock:*"))
    assert keys == [f"{prefix}lock:day1", f"{prefix}lock:svc:alpha:day1", f"{prefix}lock:svc:bravo:day1"]

    notifier = RecordingNotifier()
    runtimes = {svc.service.name: await RolloutRuntime.create(svc.checklist, svc.store, notifier, locks=svc.locks,
                                                              prefix=prefix, env={}) for svc in (alpha, bravo)}
    try:
        shared = {name: runtime.shared for name, runtime in runtimes.items()}
        assert all(isinstance(s, RedisLocks) for s in shared.values())  # Redis itself, named for each service
        leases = [LeaderLease(shared[name], "rollout:shop", lease_seconds=5)
                  for name in ("alpha", "bravo")]
        assert [await lease.try_acquire() for lease in leases] == [True, True]  # one leader per service
        assert await LeaderLease(shared["alpha"], "rollout:shop").try_acquire() is False
        p0 = Incident(id="shop-P0-b", checklist="shop", level="P0", phase="phase-1", rules=["errors"],
                      message="5xx", opened_at=0.0)
        assert await runtimes["bravo"].incidents().open(p0)
        assert await runtimes["alpha"].incidents().current() == {}
        assert list(await runtimes["bravo"].incidents().current()) == ["P0"]
        assert await runtimes["alpha"].incidents().open(Incident(**{**p0.__dict__, "id": "shop-P0-a"}))
        for lease in leases:
            await lease.release()
    finally:
        for runtime in runtimes.values():
            await runtime.close()
    assert await main.locks.holder("day1") == "run-main"  # closing a service's runtime leaves the bot's locks


async def test_a_p0_pause_of_one_service_never_pauses_the_other_and_its_rollback_never_touches_the_others_flags(
        two: tuple[Svc, Svc], store: Store) -> None:
    alpha, bravo = two
    notifier = RecordingNotifier()
    runtimes = {svc.service.name: await RolloutRuntime.create(svc.checklist, svc.store, notifier, locks=svc.locks,
                                                              env={}) for svc in two}
    a, b = runtimes["alpha"].service, runtimes["bravo"].service
    try:
        for svc in two:
            passed(svc.store, svc.checklist, "smoke", "cache")
            sign_pre(svc)
        # the promotion gate of each service consults the global freeze beside its own
        everywhere = FreezeService(store, alpha.checklist, global_scope=True)
        everywhere.declare(datetime.now(UTC) + timedelta(hours=1), "all-hands migration", by="U_CTO")
        for service in (a, b):
            frozen = await service.promote("phase-1", actor="U_ENG")
            assert not frozen.ok and any("for every service" in r for r in frozen.reasons), frozen.reasons
        await everywhere.lift(Actor("U_CTO", "cli"))
        assert (await a.promote("phase-1", actor="U_ENG")).ok
        assert (await b.promote("phase-1", actor="U_ENG")).ok

        # a P0 on bravo pauses bravo, and only bravo
        RolloutRecords(bravo.store, "shop").incident_opened(id="shop-P0-1", level="P0", phase="phase-1",
                                                           rules=["errors"], message="5xx", opened_at=datetime.now(UTC))
        await b.pause(phase="phase-1", reason="P0: 5xx", incident_id="shop-P0-1")
        held = await b.promote("phase-2", actor="U_ENG")
        assert not held.ok and any("paused (P0: 5xx)" in r for r in held.reasons), held.reasons
        assert RolloutRecords(alpha.store, "shop").paused() is None
        assert RolloutRecords(alpha.store, "shop").open_incidents() == []
        promoted = await a.promote("phase-2", actor="U_ENG")
        assert promoted.ok, promoted.reasons
        assert "APP_EXPORT=true" in alpha.env_file.read_text()

        # alpha rolls back: its flags go back, bravo's file is not touched by one byte
        bravo_flags = bravo.env_file.read_bytes()
        rolled = await a.rollback(actor="U_ONCALL", reason="p95")
        assert rolled.ok and rolled.phase == "phase-1"
        assert "APP_EXPORT=false" in alpha.env_file.read_text()
        assert bravo.env_file.read_bytes() == bravo_flags
        assert await a.current_phase() == "phase-1" and await b.current_phase() == "phase-1"
        assert (await a.deployment())["rollback_count"] == 1 and (await b.deployment())["rollback_count"] == 0
        assert [e["action"] for e in RolloutRecords(bravo.store, "shop").events()] == ["refused", "promote", "pause",
                                                                                    "refused"]
    finally:
        for runtime in runtimes.values():
            await runtime.close()
    # one audit chain for both services, each entry naming its service
    assert store.verify_audit()[1] is None
    rollout_subjects = {row["subject"].split("/")[0] for row in store.audit_log(limit=100)
                        if row["action"].startswith("rollout.")}
    assert rollout_subjects == {"alpha", "bravo"}
    assert store.get("rollout:shop:phase") is None  # the default service's kv keys are not theirs
    assert alpha.store.get("rollout:shop:phase") == "phase-1"


async def test_a_runtime_that_built_its_locks_names_them_for_its_service_and_closes_them(
        two: tuple[Svc, Svc]) -> None:
    alpha, _ = two
    runtime = await RolloutRuntime.create(alpha.checklist, alpha.store, RecordingNotifier(), env={})
    own = runtime._own_locks
    assert isinstance(own, LocalLocks)
    assert await runtime.locks.acquire("rollout:shop", "t1")
    assert await own.holder("svc:alpha:rollout:shop") == "t1"
    await runtime.close()  # its own locks (not a view of the bot's) close with it
    assert await own.holder("svc:alpha:rollout:shop") is None


def test_a_service_view_shares_the_database_and_the_audit_chain(store: Store) -> None:
    hunter = store.for_service("hunter")
    assert hunter.db is store.db and hunter.audit_keys is store.audit_keys
    assert hunter.for_service("default") is store and store.for_service("hunter").service == "hunter"
    store.audit(actor="U1", action="run.started", subject="r1")
    hunter.audit(actor="U1", action="run.started", subject="r2")
    assert [r["subject"] for r in store.audit_log(limit=5)] == ["hunter/r2", "r1"]
    assert [r["subject"] for r in hunter.audit_log(subject="r2")] == ["hunter/r2"]
    assert store.verify_audit() == (2, None)
    hunter.put("note", 1)
    assert hunter.get("note") == 1 and store.get("note") is None and store.get("svc:hunter:note") == 1
    hunter.close()  # a view's close leaves the shared database to the bot
    assert store.get("svc:hunter:note") == 1
    with pytest.raises(ValueError, match="cannot be empty"):
        store.for_service(" ")
