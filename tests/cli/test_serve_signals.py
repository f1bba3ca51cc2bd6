"""A SIGTERM or SIGINT at any moment of `golive serve`'s start-up ends it with exit 0 and no traceback.

A real process (signals are the point). Deterministic, not timed: GOLIVE_STARTUP_HOLD makes the process wait
at one named start-up point (bot.serving.startup) and GOLIVE_STARTUP_TRACE tells the test it is there; the signal
arrives at exactly that moment. The points span start-up: before the command's modules import, after the
arguments parse, after the configuration loads, around the demo service, with the store open, and with
the port bound but Slack not yet asked. Once it runs, tests/production/test_socket_mode_process.py covers it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.slack.support import BOT_TOKEN, SIGNING_SECRET

REPO = Path(__file__).resolve().parents[2]
CHECKLIST = REPO / "tests" / "slack" / "fixtures" / "golive_test.yml"
ASYNC_POINTS = ("store", "listening")  # inside the event loop; the others come before it


def trace_lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.mark.parametrize(("point", "sig"), [
    ("imports", signal.SIGINT), ("imports", signal.SIGTERM), ("parsed", signal.SIGTERM),
    ("configured", signal.SIGINT), ("demo", signal.SIGTERM), ("store", signal.SIGINT),
    ("listening", signal.SIGTERM),
])
def test_a_signal_at_each_moment_of_start_up_exits_0_without_a_traceback(tmp_path: Path, point: str,
                                                                          sig: signal.Signals) -> None:
    trace = tmp_path / "startup.trace"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_", "TEAMS_"))}
    env.update(PYTHONPATH=str(REPO), GOLIVE_STATE_DIR=str(tmp_path / "state"), GOLIVE_CHECKLIST=str(CHECKLIST),
               SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, GOLIVE_LOG_FORMAT="text",
               GOLIVE_SLACK_API_URL="http://127.0.0.1:9/api/",  # never reached: every point is before auth.test
               GOLIVE_STARTUP_TRACE=str(trace), GOLIVE_STARTUP_HOLD=point)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1", "--port", "0"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60  # a failure timeout for a hung start, not a speed bound
        while point not in trace_lines(trace):
            assert proc.poll() is None, f"ended before {point}: {proc.communicate()}"
            assert time.monotonic() < deadline, f"never reached {point}: {trace_lines(trace)}"
            time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    name = signal.Signals(sig).name
    assert proc.returncode == 0, f"{name} at {point}: exit {proc.returncode}\n{err[-3000:]}"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, f"{name} at {point}:\n{err[-3000:]}"
    assert not [line for line in err.splitlines() if line.startswith("golive: ")], err  # nothing to fix
    reached = trace_lines(trace)
    if point not in ASYNC_POINTS:
        assert "store" not in reached, f"{name} at {point}: start-up went on to open the store ({reached})"
    elif point == "store":
        assert "listening" not in reached, f"{name} at store: start-up went on to bind the port ({reached})"
