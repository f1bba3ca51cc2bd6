"""The concurrent runner: every check of a selection runs at once (bounded), each under its own timeout.

Except where concurrency would falsify a result (see `checks.lanes`): a check that changes the target
runs alone, and latency-judged checks run while golive is otherwise quiet.

A check that raises is an `error` and never stops the others; a check whose dependency did not pass
is skipped with the reason. Results are masked here, the single exit of the engine.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from checks.bounded import CapExceeded
from checks.interpolate import MissingVariable, interpolate
from checks.lanes import Lane, Lanes
from checks.masking import mask, masker
from checks.registry import CheckContext, FlagReader, get_kind
from checks.result import CheckResult, Outcome, Status, utcnow
from checks.spec import Checklist, CheckSpec
from checks.target_env import SettingsError, read_target_env
from checks.timing import Timer
from checks.verdict import Verdict, decide

ResultCallback = Callable[[CheckResult], Awaitable[None] | None]
log = logging.getLogger("golive.runner")

PROCESS_SLOTS = 32
"""Checks in flight at once across every run of one process (GOLIVE_CHECK_SLOTS), on top of each run's own
`concurrency`: five services running a 40-check phase in one bot otherwise have 80 checks whose network
callbacks share one event loop turn with the bot's acks."""
HTTP_KINDS = ("http", "api.", "openapi", "smoke.")
"""Kinds whose first request imports the HTTP stack (httpx, httpcore, anyio) and builds the TLS context."""


def process_slots() -> int:
    try:
        return max(1, int(os.environ.get("GOLIVE_CHECK_SLOTS", "") or PROCESS_SLOTS))
    except ValueError:
        return PROCESS_SLOTS


class StartGate:
    """Lets one check start per turn of the event loop.

    A check runs synchronously from the moment it gets its slot until its first real wait (params validated,
    its client built, the request sent): a few milliseconds. Forty checks given slots in the same turn did
    all of that back to back, and a request arriving meanwhile (a Slack ack) waited for the whole batch.
    Through the gate, each start is its own turn, and the loop polls its sockets in between.
    """

    def __init__(self) -> None:
        self._busy = False
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.turns = 0

    async def turn(self) -> None:
        """Returns in a loop turn of its own; the next waiter's turn is the loop's next one."""
        loop = asyncio.get_running_loop()
        if self._busy:
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # granted, then cancelled: pass the turn on
                    loop.call_soon(self._pass)
                elif waiter in self._waiting:  # else `_pass` already dropped it
                    self._waiting.remove(waiter)
                raise
        self._busy = True
        self.turns += 1
        loop.call_soon(self._pass)

    def _pass(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._busy = False


@dataclass
class _Shared:
    slots: asyncio.Semaphore
    gate: StartGate


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Shared] = weakref.WeakKeyDictionary()
_HTTP_LOADED = False


def shared() -> _Shared:
    """The slots and the start gate every run on the running loop shares (asyncio primitives are per loop)."""
    loop = asyncio.get_running_loop()
    found = _SHARED.get(loop)
    if found is None:
        found = _SHARED[loop] = _Shared(asyncio.Semaphore(process_slots()), StartGate())
    return found


_HTTP_LOCK = threading.Lock()


def _load_http_stack() -> None:
    """What the first HTTP check would do on the event loop: import httpx with its transport and anyio's
    asyncio backend, and build the verifying TLS context (tens of ms each, the first time)."""
    global _HTTP_LOADED
    with _HTTP_LOCK:  # a run that starts while the bot is still loading it waits for that load, not a second one
        if _HTTP_LOADED:
            return
        import anyio._backends._asyncio  # noqa: F401  # httpcore's locks load it lazily, at the first request
        import httpx

        from checks.kinds.http import _default_ssl_context

        httpx.AsyncHTTPTransport(verify=_default_ssl_context())
        _HTTP_LOADED = True


def uses_http(checks: Sequence[CheckSpec]) -> bool:
    return any(c.kind == k or (k.endswith(".") and c.kind.startswith(k)) for c in checks for k in HTTP_KINDS)


async def load_http_stack(checks: Sequence[CheckSpec]) -> bool:
    """Loads the HTTP stack in a thread before the first HTTP check of the process; True when it did."""
    if _HTTP_LOADED or not uses_http(checks):
        return False
    await asyncio.to_thread(_load_http_stack)
    return True


@dataclass
class RunReport:
    checklist: Checklist
    selector: str
    results: list[CheckResult]
    verdict: Verdict
    started_at: Any = field(default_factory=utcnow)
    wall_ms: float = 0.0

    @property
    def sum_ms(self) -> float:
        return sum(r.duration_ms for r in self.results)


class Runner:
    def __init__(
        self,
        checklist: Checklist,
        *,
        concurrency: int = 16,
        env: dict[str, str] | None = None,
        rollout_phase: str | None = None,
        flag_reader: FlagReader | None = None,
        overrides: dict[str, str] | None = None,
        on_timing_dispatch: Callable[[], Any] | None = None,
    ) -> None:
        self.checklist = checklist
        self.concurrency = max(1, concurrency)
        self._env = env
        self.rollout_phase = rollout_phase
        self.flag_reader = flag_reader
        self.overrides = overrides or {}
        self.on_timing_dispatch = on_timing_dispatch  # tests: runs in the loop as each timed request leaves
        self.workdir = Path(checklist.source_path).resolve().parent if checklist.source_path else Path.cwd()

    async def env(self) -> dict[str, str]:
        if self._env is None:
            self._env = {**await read_target_env(self.checklist, self.workdir), **self.overrides}
        return self._env

    async def run(self, checks: Sequence[CheckSpec], *, selector: str = "", on_result: ResultCallback | None = None,
                  run_id: str = "") -> RunReport:
        """`run_id` (the stored run's id, else a fresh token) tags every request to the target of this run."""
        run_id = run_id or secrets.token_hex(8)
        started = time.perf_counter()
        started_at = utcnow()
        env = await self.env()
        try:
            target_url = str(interpolate(self.checklist.target.base_url, env))
        except MissingVariable as exc:
            raise SettingsError(f"target.base_url in {self.checklist.source_path}: {exc}") from None
        outputs: dict[str, dict[str, Any]] = {}
        done: dict[str, asyncio.Future[CheckResult]] = {
            c.id: asyncio.get_running_loop().create_future() for c in checks
        }
        semaphore = asyncio.Semaphore(self.concurrency)
        common = shared()
        await load_http_stack(checks)
        lanes = Lanes()
        results: list[CheckResult] = []
        # the timing process starts only if a check asks for a timing
        timer = Timer(self.on_timing_dispatch, sql=any(c.kind == "postgres.query" for c in checks))

        async def one(spec: CheckSpec) -> None:
            for dep in spec.after:
                if dep in done:
                    await asyncio.shield(done[dep])
            blocking, inapplicable = [], []
            for dep in spec.needs:
                dep_result = await done[dep] if dep in done else None
                if dep_result is not None and dep_result.status is Status.NA:
                    inapplicable.append(dep)
                elif dep_result is not None and dep_result.status not in (Status.PASS, Status.WARN):
                    blocking.append(f"{dep} {dep_result.status.value}")
            if inapplicable and not blocking:
                result = _result(spec, Outcome.not_applicable(f"not applicable: needs {', '.join(inapplicable)} "
                                                              "(n/a)"), 0.0)
            elif blocking:
                result = _result(spec, Outcome.skipped(f"skipped: needs {', '.join(blocking)}"), 0.0)
            else:
                async with lanes.enter(lane_of(spec)), semaphore, common.slots:
                    await common.gate.turn()
                    ctx = CheckContext(checklist=self.checklist, env=env, check=spec, workdir=self.workdir,
                                       outputs=outputs, rollout_phase=self.rollout_phase,
                                       flag_reader=self.flag_reader, target_url=target_url, run_id=run_id,
                                       timer=timer)
                    result = await execute(spec, ctx)
            results.append(result)
            done[spec.id].set_result(result)
            if on_result is not None:
                try:
                    maybe = on_result(result)
                    if asyncio.iscoroutine(maybe):
                        await maybe
                except Exception as exc:  # a broken callback never breaks a run, and is never silent: the
                    # store's side (bot.runs.durable) retries, holds, and checks every result was stored
                    log.warning("on_result for %s failed: %s", spec.id, mask(f"{type(exc).__name__}: {exc}"))

        try:
            await asyncio.gather(*(one(c) for c in checks))
        finally:
            await timer.close()
        order = {c.id: i for i, c in enumerate(checks)}
        results.sort(key=lambda r: order[r.check_id])
        verdict = decide(checks, {r.check_id: r for r in results})
        return RunReport(checklist=self.checklist, selector=selector, results=results, verdict=verdict,
                         started_at=started_at, wall_ms=(time.perf_counter() - started) * 1000)


def lane_of(spec: CheckSpec) -> Lane:
    """Alone when it changes the target; quiet when judged on latency; otherwise with the others."""
    kind = get_kind(spec.kind)
    if kind is None:
        return "exclusive" if spec.mutates else "normal"
    if kind.changes_target(spec):
        return "exclusive"
    return "quiet" if kind.judges_latency(spec) else "normal"


async def execute(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    """Run one check under its timeout; never raises."""
    started = time.perf_counter()
    kind = get_kind(spec.kind)
    try:
        if kind is None:
            raise LookupError(f"unknown check kind {spec.kind!r}")
        if spec.when:
            unmet = {k: v for k, v in spec.when.items() if ctx.env.get(k, "") != v}
            if unmet:
                reason = ", ".join(f"{k} is {ctx.env.get(k, '') or 'unset'} (runs when {v})" for k, v in unmet.items())
                return _result(spec, Outcome.not_applicable(f"not applicable: {reason}"), 0.0)
        # what it writes, named with the target's values (golive-smoke.example, not ${HUNTER_SMOKE_DOMAIN})
        written = kind.what_it_writes(spec.model_copy(update={"params": interpolate(spec.params, ctx.env,
                                                                                    strict=False)}))
        if written and ctx.checklist.read_only:
            return _result(spec, Outcome.not_applicable(
                f"not applicable: the checklist is read_only: true and this check writes ({written})",
                would_write=written), 0.0)
        try:
            params = kind.params.model_validate(interpolate(spec.params, ctx.env))
        except MissingVariable as exc:
            return _result(spec, Outcome(status=Status.FAIL, summary=f"not configured: {exc}"), _ms(started))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            return _result(spec, Outcome(status=Status.ERROR, summary=f"bad params.{where}: {err['msg']}"),
                           _ms(started))
        async with asyncio.timeout(spec.timeout):
            outcome = await kind.run(ctx, params)
        if written:
            outcome.evidence.setdefault("writes", written)
    except TimeoutError:
        outcome = Outcome(status=Status.FAIL, summary=f"timed out after {spec.timeout:g}s (no answer)",
                          evidence={"timeout_s": spec.timeout})
    except asyncio.CancelledError:
        raise
    except CapExceeded as exc:  # the target sent more than golive reads: nothing left to judge
        outcome = Outcome(status=Status.ERROR, summary=str(exc), evidence=exc.evidence())
    except Exception as exc:  # a broken check is reported, never fatal
        outcome = Outcome(status=Status.ERROR, summary=f"{type(exc).__name__}: {exc}")
    if outcome.outputs:
        ctx.outputs[spec.id] = outcome.outputs
    return _result(spec, outcome, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


# Terminal control sequences (colours, cursor moves, OSC titles) copied from a command's output: a summary
# is text for Slack, Teams, JSON and the store, where they are noise or worse.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]")


def strip_ansi(value: Any) -> Any:
    """`value` with every terminal escape sequence removed from each string in it."""
    if isinstance(value, str):
        return _ANSI.sub("", value) if ("\x1b" in value or "\x9b" in value) else value
    if isinstance(value, dict):
        return {k: strip_ansi(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strip_ansi(v) for v in value]
    return value


def _result(spec: CheckSpec, outcome: Outcome, duration_ms: float) -> CheckResult:
    """The one place results are built: escape sequences stripped, secrets masked."""
    return CheckResult(
        check_id=spec.id,
        title=spec.title,
        kind=spec.kind,
        phase=spec.phase,
        criticality=spec.weight(outcome.status, outcome.evidence),
        status=outcome.status,
        summary=mask(strip_ansi(outcome.summary)),
        evidence=masker.mask_data(strip_ansi(outcome.evidence)),
        duration_ms=duration_ms,
        needs_confirmation=outcome.needs_confirmation,
    )
