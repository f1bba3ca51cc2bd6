"""No process golive starts for a check can read golive's own secrets (issue 18 item 1).

A real `golive run` is started the way an operator would, by a shell, with Slack and Teams secrets in its
environment, one secret as a NAME_FILE file, one in its .env file and a planted file in its state dir.
Its only check runs `secret_thief.py`, which tries every way it knows to read them (the list is in that
file: 16 ways) and saves what it got. Each must come back without a secret.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.inprocess import process_env

THIEF = Path(__file__).with_name("secret_thief.py")
ATTACKS = ("own_environment", "ppid_environ", "golive_environ", "golive_cmdline", "golive_mem", "ppid_mem",
           "grandparent_environ", "scan_proc_environs", "inherited_fds", "golive_fds", "state_dir",
           "secret_file", "dotenv_file", "ps_e", "ptrace_attach", "gdb_attach")
CANARIES = {
    "SLACK_BOT_TOKEN": "canary-bot-token-7f3a9",
    "SLACK_SIGNING_SECRET": "canary-signing-secret-91c2e",
}
FILE_CANARY = "canary-app-token-from-file-2b8e1"  # SLACK_APP_TOKEN_FILE
DOTENV_CANARY = "canary-teams-password-in-dotenv-55d1"  # TEAMS_APP_PASSWORD in golive's .env
STATE_CANARY = "canary-planted-in-state-dir-44aa0"
ALL_CANARIES = [*CANARIES.values(), FILE_CANARY, DOTENV_CANARY, STATE_CANARY]


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory any user can enter (tmp_path is root's only, and `user` mode runs checks as nobody)."""
    root = Path(tempfile.mkdtemp(prefix="golive-secrets-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def python3() -> str:
    """An interpreter nobody may run too (this venv's lives under /root)."""
    return shutil.which("python3", path="/usr/bin:/bin") or sys.executable


def run_golive_with_secrets(world: Path, isolation: str, only: tuple[str, ...] = ()) -> Path:
    home, target = world / "golive", world / "target"
    home.mkdir()
    target.mkdir(mode=0o777)
    target.chmod(0o777)  # the thief saves its loot here, whoever it runs as
    shutil.copy(THIEF, target / "secret_thief.py")
    (home / "state").mkdir()
    (home / "state" / "planted.txt").write_text(STATE_CANARY)
    secret_file = home / "slack_app_token"
    secret_file.write_text(FILE_CANARY + "\n")
    (home / ".env").write_text(f"TEAMS_APP_PASSWORD={DOTENV_CANARY}\n")
    config = {"state_dir": str(home / "state"), "secret_file": str(secret_file), "dotenv": str(home / ".env"),
              "only": list(only)}
    command = [python3(), "secret_thief.py", json.dumps(config)]
    (target / "checklist.yml").write_text(
        "name: thief\nphases:\n  - id: p\n    checks:\n"
        f"      - {{id: thief, kind: command, timeout: 90, params: {{command: {json.dumps(command)}}}}}\n")
    env = process_env(home, {**CANARIES, "SLACK_APP_TOKEN_FILE": str(secret_file),
                             "GOLIVE_CHECK_ISOLATION": isolation})
    # a shell starts golive and waits for it, as an operator's would: the grand-parent holds the secrets too
    shell = subprocess.Popen(["/bin/sh", "-c", f'{sys.executable} -m bot.cli run --checklist "$1"; :', "sh",
                              str(target / "checklist.yml")], cwd=home, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    golive_pid = None
    for _ in range(200):
        children = Path(f"/proc/{shell.pid}/task/{shell.pid}/children")
        if children.exists() and (found := children.read_text().split()):
            golive_pid = int(found[0])
            break
        time.sleep(0.02)
    assert golive_pid is not None, "golive did not start"
    (target / "pids.txt").write_text(f"{golive_pid} {shell.pid}\n")
    out, err = shell.communicate(timeout=180)
    assert "PASS" in out + err, (out, err)  # the thief's check ran to its end
    return target / "loot"


def leaks(loot: Path) -> dict[str, list[str]]:
    return {name: found for name in ATTACKS if (loot / name).exists()
            if (found := [c for c in ALL_CANARIES if c.encode() in (loot / name).read_bytes()])}


@pytest.mark.parametrize("isolation", ["namespaces", "user"])
def test_no_check_process_reads_golives_secrets_by_any_of_16_ways(world: Path, isolation: str) -> None:
    if isolation == "user" and os.geteuid() != 0:
        pytest.skip("`user` mode is what a root golive does without namespaces; this run is not root")
    loot = run_golive_with_secrets(world, isolation)
    assert sorted(p.name for p in loot.iterdir()) == sorted(ATTACKS), "every attack ran and saved its result"
    assert leaks(loot) == {}


def test_without_confinement_the_same_thief_finds_the_secrets(world: Path) -> None:
    """The control: with GOLIVE_CHECK_ISOLATION=none a root golive's checks read its environment and state,
    so the test above fails when confinement breaks (it is not passing because the thief is blind)."""
    if os.geteuid() != 0:
        pytest.skip("the control relies on root reading another process's environ")
    cheap = ("golive_environ", "grandparent_environ", "state_dir", "secret_file", "dotenv_file")
    found = leaks(run_golive_with_secrets(world, "none", only=cheap))
    assert set(found) == set(cheap)
    assert set(found["golive_environ"]) == set(CANARIES.values())
