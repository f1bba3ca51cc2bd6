"""`python -m bench` runs every benchmark and prints its figures. Only that: the numbers themselves are
measured by the bench on a quiet machine, never asserted in a timed unit test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_bench_prints_every_figure() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bench", "--quick"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "slash-command ack latency" in out and " p50 " in out and " p99 " in out
    assert "bot process RSS: idle" in out and "busy" in out
    assert "sign-off storm: 100 concurrent clicks" in out and "1 sign-off recorded, 1 approval audited (OK)" in out
    assert "phase of 20 checks" in out
    if (ROOT / "bench" / "alert_latency.py").exists():
        assert "alert latency p50" in out
    assert "golive --help" in out and "peak" in out
