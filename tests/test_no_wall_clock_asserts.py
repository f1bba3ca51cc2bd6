"""No test asserts an upper bound on wall-clock time: on a busy machine (CI, seven developers on two cores)
such a test fails without anything being wrong. Bounds are CPU time (`time.thread_time`/`process_time`)
with wide margins, counted work, or orders of events; speed figures belong in bench/.

A static check over tests/: an `assert` that compares a wall-clock difference (`time.perf_counter() -
started`, two recorded timestamps such as `slack.opens[1] - dropped_at`, or a name assigned one) as smaller
than something. A deadline guard (`time.monotonic() <
deadline`, a hang guard inside a wait loop) compares a clock reading, not a duration, and is allowed.
Lower bounds (`elapsed >= 0.15`: "it did wait") only grow on a busy machine and are allowed too."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WALL_CLOCKS = {"perf_counter", "monotonic", "time", "perf_counter_ns", "monotonic_ns", "time_ns"}


def _is_wall_clock(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WALL_CLOCKS
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "time")


def _is_time_point(node: ast.AST, points: set[str]) -> bool:
    """A wall-clock reading: the clock itself, a name assigned one, or a timestamp named `*_at` (a stand-in's
    `dropped_at`, a record's `opened_at`): the difference of two readings is a wall-clock duration too."""
    if _is_wall_clock(node):
        return True
    if isinstance(node, ast.Name):
        return node.id in points or node.id.endswith("_at")
    return isinstance(node, ast.Attribute) and node.attr.endswith("_at")


def _is_duration(node: ast.AST, durations: set[str], points: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in durations
    if isinstance(node, ast.Attribute) and node.attr == "seconds":  # an answer's measured `.seconds`
        return True
    # `later - earlier`: a reading on the left, or a recorded one subtracted (`opens[1] - dropped_at`); the
    # clock itself subtracted (`expires - time.time()`) is the time left until then, which only shrinks
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and (
        any(_is_time_point(n, points) for n in ast.walk(node.left))
        or (_is_time_point(node.right, points) and not _is_wall_clock(node.right))
        or _is_duration(node.left, durations, points))


def wall_clock_asserts(source: str, name: str = "<test>") -> list[str]:
    tree = ast.parse(source)
    assigns = [(t.id, node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
               for t in node.targets if isinstance(t, ast.Name)]
    points = {target for target, value in assigns if _is_wall_clock(value)}
    durations: set[str] = set()
    while True:  # a name assigned a duration, or a duration computed from such names
        more = {target for target, value in assigns if target not in durations
                and isinstance(value, ast.BinOp) and isinstance(value.op, ast.Sub)
                and _is_duration(value, durations, points)}
        if not more:
            break
        durations |= more
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        for compare in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
            operands = [compare.left, *compare.comparators]
            for op, (lhs, rhs) in zip(compare.ops, itertools.pairwise(operands), strict=True):
                upper = (isinstance(op, (ast.Lt, ast.LtE)) and _is_duration(lhs, durations, points)) or \
                        (isinstance(op, (ast.Gt, ast.GtE)) and _is_duration(rhs, durations, points))
                if upper:
                    found.append(f"{name}:{node.lineno}: {ast.unparse(node.test)[:100]}")
    return found


def test_no_test_asserts_an_upper_bound_on_wall_clock_time() -> None:
    found = [hit for path in sorted((ROOT / "tests").rglob("*.py")) if "node_modules" not in path.parts
             for hit in wall_clock_asserts(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not found, "wall-clock bounds in tests (use CPU time, count work, or move the figure to bench/):\n" + \
        "\n".join(found)


def test_the_check_catches_the_forms_the_suite_once_used() -> None:
    once = {  # verbatim shapes of assertions this suite used to make
        "inline": "started = time.perf_counter()\nrun()\nassert time.perf_counter() - started < 3",
        "named": "started = time.perf_counter()\nrun()\nelapsed = time.perf_counter() - started\n"
                 "assert elapsed < 1.5, 'not concurrent'",
        "monotonic": "started = time.monotonic()\ntook = time.monotonic() - started\nassert took <= 5.0",
        "answer": "assert first.seconds < ACK_BUDGET",
        "reversed": "elapsed = time.perf_counter() - t0\nassert 2.0 > elapsed",
        "stand-in timestamps": "dropped_at = await drop()\nreopen = slack.opens[1] - dropped_at\n"
                               "assert reopen <= bound, 'slow'",
        "recorded readings": "t0 = time.monotonic()\nrun()\nassert log[-1].when - t0 < 1.0",
        "attribute": "assert conn.closed_at - conn.opened_at <= 0.5",
    }
    for shape, source in once.items():
        assert wall_clock_asserts(source), f"not caught: {shape}"


def test_guards_lower_bounds_and_cpu_time_are_allowed() -> None:
    allowed = {
        "deadline guard": "deadline = time.monotonic() + 60\nwhile x:\n    assert time.monotonic() < deadline",
        "lower bound": "started = time.perf_counter()\nget()\nassert time.perf_counter() - started >= 0.15",
        "cpu time": "started = time.thread_time()\nmask()\nassert time.thread_time() - started < 3",
        "lower bound on timestamps": "assert slack.opens[1] - dropped_at >= 0.2",
        "dates": "assert all(r.finished_at > end - timedelta(minutes=5) for r in latest)",
        "time left": "assert 7100 < exp - time.time() <= 7200",
    }
    for shape, source in allowed.items():
        assert wall_clock_asserts(source) == [], f"wrongly flagged: {shape}"
