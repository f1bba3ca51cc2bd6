"""bench/alert_latency.py runs as a script and keeps alerts within two poll intervals."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_alert_latency_bench_stays_under_two_poll_intervals(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "alert_latency.py"), "--trials", "3",
                           "--interval", "0.25"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = re.search(r"alert latency p50 ([\d.]+) ms, max ([\d.]+) ms, bound 2 x interval = 500 ms → OK",
                        done.stdout)
    assert summary, done.stdout
    assert "poll interval 250 ms" in done.stdout
