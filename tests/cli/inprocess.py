"""`golive` run in the test's own process: `bot.cli.main(argv)` set up exactly as `tests.cli.test_cli.golive`
sets up its `python -m bot.cli` subprocess, without the 1-2 s of interpreter start-up and imports per call.

Tests use it where a separate process proves nothing extra (argument handling, exit codes of `main`, what a
command prints and stores). What only a real process shows (the console script, signals, what reaches the
process's real stderr) keeps the subprocess. The state a fresh process would start without is reset for the
call and restored afterwards: environment, working directory, the settings cache and the secret masker
(so a secret another call taught it cannot hide a leak in this one). WARNING and worse log records go to the
captured stderr, as Python's last-resort handler would write them in a process without logging set up.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from bot import cli
from bot.settings import get_settings
from checks.masking import masker

STRIPPED = ("GOLIVE_", "SLACK_", "DATABASE_URL", "REDIS_URL", "ENVIRONMENT")


def process_env(cwd: Path, env: dict[str, str] | None) -> dict[str, str]:
    """The environment `golive` runs with: the test's own minus golive/target settings, plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED)}
    base["GOLIVE_STATE_DIR"] = str(cwd / "state")
    return {**base, **(env or {})}


def golive_in_process(*args: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess:
    """`bot.cli.main(args)` as `python -m bot.cli` would run it; returns code, stdout and stderr alike."""
    saved_env, saved_cwd, saved_secrets = dict(os.environ), os.getcwd(), set(masker._values)
    out, err = io.StringIO(), io.StringIO()
    last_resort = logging.StreamHandler(err)
    last_resort.setLevel(logging.WARNING)
    root = logging.getLogger()
    os.environ.clear()
    os.environ.update(process_env(cwd, env))
    os.chdir(cwd)
    masker._values.clear()
    get_settings.cache_clear()
    root.addHandler(last_resort)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if isinstance(exc.code, str):
                    print(exc.code, file=err)
            except Exception:  # what the interpreter does with an uncaught exception
                traceback.print_exc(file=err)
                code = 1
    finally:
        root.removeHandler(last_resort)
        get_settings.cache_clear()
        masker._values.clear()
        masker._values.update(saved_secrets)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["golive", *args], code, out.getvalue(), err.getvalue())
