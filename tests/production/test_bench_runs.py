"""`python -m bench` runs every benchmark and prints its figures. Only that: the numbers themselves are
measured by the bench on a quiet machine, never asserted in a timed unit test. Each benchmark's smoke
run (`python -m bench --quick NAME`) is its own test, so they can run side by side."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# What each benchmark must print (the figures themselves are not judged here).
EXPECTED = {
    "ack_latency": ["slash-command ack latency", " p50 ", " p99 ", "bot process RSS: idle", "busy"],
    "signoff_storm": ["sign-off storm: 100 concurrent clicks", "1 sign-off recorded, 1 approval audited (OK)"],
    "phase_wall_time": ["phase of 20 checks"],
    "alert_latency": ["alert latency p50"],
    "probe_latency": ["isolated (probe alone)", "honest   (with a CPU-heavy check)", "bound:"],
    "latency_under_load": ["latency under load:", "independent", "within 20 % + 10 ms of the independent client:"],
    "cli_startup": ["golive --help", "peak"],
    "socket_reconnect": ["Socket Mode reconnects", "apps.connections.open"],
    "demo_server": ["demo service x", "start", "stop"],
    "history_scale": ["golive status, 1 run", "golive serve on", "every reply posted within", "prune --older-than",
                      "targets:"],
    "web_render": ["run page, 40 checks", "CPU median", "page+css", "imported by the CLI and the chat renderers"],
    "hostile_target": ["command writing 100 MB", "peak RSS", "error names the cap: yes"],
    "audit_verify": ["rows", "verify exit 0", "peak RSS", "audit log intact"],
    "many_services": ["services x 40 checks in one bot", "ready_s", "overview_s", "rss_mb", "ack_p99_ms"],
}


def test_every_benchmark_has_a_smoke_test() -> None:
    from bench.__main__ import BENCHMARKS

    assert {name.rsplit(".", 1)[-1] for name, _ in BENCHMARKS} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_python_m_bench_quick_prints_its_figures(name: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", name], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for needle in EXPECTED[name]:
        assert needle in out, f"{name} did not print {needle!r}:\n{out}"


def test_the_cli_benchmark_measures_each_childs_own_peak_not_its_parents(tmp_path: Path) -> None:
    """`python -m bench` imports every benchmark first, so it is big; a child's rusage keeps the address space
    it had before exec (the parent's), which once reported 69 MB for a 13 MB `golive --help`."""
    from bench.cli_startup import measure

    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touched: 300 MB resident in this process
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOLIVE_STATE_DIR": str(tmp_path / "state")}
    _, cpu, peak = measure(["--help"], str(tmp_path), env)
    del ballast
    assert 5 < peak < 150, f"golive --help peaked at {peak:.0f} MB: that is the parent's size, not its own"
    assert cpu > 0


def test_the_audit_benchmark_measures_verifys_own_peak_not_its_parents(tmp_path: Path) -> None:
    """The audit benchmark builds a million rows in its own process before it starts `golive audit verify`;
    wait4's ru_maxrss reported that size (118 MB) as verify's peak, a miss for a verify of about 40 MB."""
    from bench.audit_verify import verify

    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touched: 300 MB resident in this process
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOLIVE_STATE_DIR": str(tmp_path / "state")}
    code, _, peak, said = verify(env, str(tmp_path))
    del ballast
    assert code in (0, 1, 2), said  # an empty log; what matters here is whose memory was measured
    assert 5 < peak < 150, f"audit verify peaked at {peak:.0f} MB: that is the parent's size, not its own"
