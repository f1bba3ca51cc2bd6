"""How every process a check starts is spawned (checks.process.prepare_spawn): an allowlisted environment,
no inherited descriptor, the protected paths covered, and no network for a sandboxed script."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks import process
from checks.process import configure_confinement, confinement_mode, run_process
from checks.result import Status
from checks.target_env import read_target_env
from tests.checks.test_guard_sandbox import repo_with, run_guard

PRINT_ENV = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]


@pytest.fixture(autouse=True)
def confinement() -> Iterator[None]:
    saved = dataclasses.replace(process.CONFINEMENT)
    yield
    for name in ("mode", "user", "cover", "secret_env", "pass_env", "resolved"):
        setattr(process.CONFINEMENT, name, getattr(saved, name))


async def child_environment(**kwargs: object) -> dict[str, str]:
    import json

    done = await run_process(PRINT_ENV, **kwargs)  # type: ignore[arg-type]
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


async def test_a_check_process_gets_an_allowlist_of_golives_environment_never_a_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-for-checks")
    monkeypatch.setenv("SOME_OPERATOR_VAR", "not-for-checks-either")
    monkeypatch.setenv("KUBECONFIG", "/etc/kube/config")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.delenv("LANG", raising=False)
    configure_confinement(secret_env=["SLACK_BOT_TOKEN"], pass_env=["KUBECONFIG", "SLACK_BOT_TOKEN"])
    env = await child_environment(env={"DATABASE_URL": "postgresql://target", "SLACK_BOT_TOKEN": "xoxb-not-for-checks"})
    home = env.pop("HOME")
    tmp = env.pop("TMPDIR")
    assert env == {"PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8", "KUBECONFIG": "/etc/kube/config",
                   "DATABASE_URL": "postgresql://target"}
    assert Path(home).name == "home" and Path(tmp).name == "tmp" and not Path(home).exists(), "a scratch, removed after"
    # the target's own Slack app may use the same name: its value, not golive's, is a target setting
    assert (await child_environment(env={"SLACK_BOT_TOKEN": "xoxb-the-targets"}))["SLACK_BOT_TOKEN"] == \
        "xoxb-the-targets"


async def test_golives_secrets_are_not_the_targets_settings_with_source_process(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from checks.loader import parse_checklist

    monkeypatch.setenv("SLACK_SIGNING_SECRET", "golive-own")
    monkeypatch.setenv("DATABASE_URL", "postgresql://target-db/app")
    configure_confinement(secret_env=["SLACK_SIGNING_SECRET"])
    text = "name: t\nsettings: {source: process}\nphases: [{id: p, checks: [{id: e, kind: env, params: {var: X}}]}]"
    checklist = parse_checklist(text, str(tmp_path / "c.yml"))
    values = await read_target_env(checklist, tmp_path)
    assert values["DATABASE_URL"] == "postgresql://target-db/app" and "SLACK_SIGNING_SECRET" not in values


async def test_no_descriptor_of_golive_reaches_a_check_process(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("inherited-secret")
    fd = os.open(secret, os.O_RDONLY)
    os.set_inheritable(fd, True)
    try:
        done = await run_process(["sh", "-c", f"ls /proc/self/fd; cat <&{fd}"])
    finally:
        os.close(fd)
    assert set(done.stdout.split()) <= {"0", "1", "2", "3"}, "stdin, stdout, stderr and ls's own directory"
    assert "inherited-secret" not in done.stdout


async def test_covered_paths_read_as_empty_in_a_check_process(tmp_path: Path) -> None:
    if confinement_mode() != "namespaces":
        pytest.skip("covering needs user namespaces, which this kernel refuses")
    state, token = tmp_path / "state", tmp_path / "token"
    state.mkdir()
    (state / "golive.db").write_text("store")
    token.write_text("secret-from-file")
    configure_confinement(cover=[state, token])
    done = await run_process(["sh", "-c", f"cat {token}; ls {state}; cat {state}/golive.db"])
    assert "secret-from-file" not in done.stdout and "store" not in done.stdout
    assert "Permission denied" in done.stderr


@pytest.mark.parametrize("kind", ["guard", "command"])
async def test_a_sandboxed_script_cannot_reach_a_local_port(tmp_path: Path, kind: str) -> None:
    """The issue's guard script opened connections to 127.0.0.1: in the sandbox it has no network at all."""
    if confinement_mode() != "namespaces":
        pytest.skip("a network namespace needs user namespaces, which this kernel refuses")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[object] = []
    server.setblocking(False)
    probe = (f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED; "
             f"{sys.executable} -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2); "
             "print(\"CONNECTED\")'; exit 1")
    script = f"#!/usr/bin/env bash\n{probe}\n"
    try:
        if kind == "guard":
            repo = repo_with(tmp_path, script, "{command: [bash, scripts/reset_db.sh]}")
            result = await run_guard(repo, {})
            output = result.evidence["output_tail"]
            assert result.status is Status.FAIL and "tried to connect" in result.summary, result.summary
        else:
            from tests.checks.test_command_injection import run_checks

            (tmp_path / "probe.sh").write_text(script)
            (result,) = await run_checks(tmp_path, "{source: process}", [
                "{id: dry, kind: command, params: {command: [bash, probe.sh], sandbox: true, expect_exit: [1]}}"])
            output = result.evidence["output_tail"]
        await asyncio.sleep(0)
        with contextlib.suppress(BlockingIOError):
            accepted.append(server.accept())
    finally:
        server.close()
    assert accepted == [] and "CONNECTED" not in output, output
    assert "unreachable" in output.lower(), output


async def test_user_mode_runs_checks_as_an_unprivileged_user_and_never_as_root(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("`user` mode changes user only when golive runs as root")
    configure_confinement(mode="user", user="nobody")
    done = await run_process(["id", "-u"])
    assert done.stdout.strip() == str(__import__("pwd").getpwnam("nobody").pw_uid)
    configure_confinement(mode="user", user="root")
    with pytest.raises(PermissionError, match="GOLIVE_CHECK_USER=root is root"):
        await run_process(["id", "-u"])


async def test_a_sandboxed_script_writes_to_private_temporary_directories(tmp_path: Path) -> None:
    """The issue's guard script could write to /tmp: in the sandbox /tmp, /var/tmp and /dev/shm are its own,
    thrown away after; its working directory and the sandbox stay what they are."""
    if confinement_mode() != "namespaces":
        pytest.skip("private temporary directories need user namespaces, which this kernel refuses")
    from tests.checks.test_command_injection import run_checks

    name = f"golive-private-tmp-{os.getpid()}-{id(tmp_path)}"
    shared = [Path("/tmp") / name, Path("/var/tmp") / name, Path("/dev/shm") / name]
    script = "".join(f"echo x > {p} && " for p in shared) + "ls /tmp && echo kept > in-cwd.txt"
    (result,) = await run_checks(tmp_path, "{source: process}", [
        f"{{id: dry, kind: command, params: {{command: [sh, -c, '{script}'], sandbox: true}}}}"])
    assert result.status is Status.PASS, result.summary
    assert [p for p in shared if p.exists()] == []
    assert (tmp_path / "in-cwd.txt").read_text() == "kept\n"


def _running(marker: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if marker.encode() in cmdline.read_bytes():
                return True
    return False


async def test_a_timeout_at_any_moment_of_a_commands_start_leaves_no_folder_and_no_program(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check's timeout cancels its run wherever it is: while the scratch HOME is being made (in a thread),
    while the process is being started, or while it runs. Each time the folder is removed and the program's
    process group killed (a cancel mid-start once left both behind). Cancelled after 0, 1, 2 … loop turns."""
    import tempfile
    import uuid

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this test's scratch folders only
    done = await run_process([sys.executable, "-c", "import os; print(os.environ['HOME'])"])
    home = Path(done.stdout.strip())
    assert home.parent.parent == tmp_path and home.parent.name.startswith("golive-check-")
    assert list(tmp_path.glob("golive-check-*")) == []  # removed after a normal end too

    for turns in (*range(12), 16, 24, 40, 80, 160):
        marker = f"golive-test-{uuid.uuid4().hex}"
        task = asyncio.create_task(run_process([sys.executable, "-c", f"import time; time.sleep(60)  # {marker}"]))
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert list(tmp_path.glob("golive-check-*")) == [], f"a scratch folder left after {turns} turns"
        assert not _running(marker), f"the program outlived its check's cancellation after {turns} turns"
