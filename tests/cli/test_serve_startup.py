"""Every start-up failure of `golive serve` is one line that says what to do, and exit 2: a port in use, a
bad --host, a state directory it cannot use, a store that refuses. In-process (`bot.cli.main`): what is
proved is the exit code and what reaches stderr, which a subprocess would only make slower to show."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.inprocess import golive_in_process
from tests.slack.support import BOT_TOKEN, SIGNING_SECRET

REPO = Path(__file__).resolve().parents[2]
CHECKLIST = REPO / "tests" / "slack" / "fixtures" / "golive_test.yml"  # no demo service to start
UNREACHABLE_SLACK = "http://127.0.0.1:9/api/"  # start-up must fail before the bot token is ever checked


def serve(tmp_path: Path, *argv: str, **env: str) -> tuple[int, str]:
    settings = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "GOLIVE_LOG_FORMAT": "text",
                "GOLIVE_SLACK_API_URL": UNREACHABLE_SLACK, "GOLIVE_CHECKLIST": str(CHECKLIST), **env}
    done = golive_in_process("serve", "--http", *argv, env=settings, cwd=tmp_path)
    return done.returncode, done.stderr


def the_line(err: str) -> str:
    """The one line the user reads: every other stderr line is a log record (INFO and up)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("golive: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def test_a_port_in_use_is_one_line_naming_the_port_and_exit_2(tmp_path: Path, taken_port: int) -> None:
    code, err = serve(tmp_path, "--host", "127.0.0.1", "--port", str(taken_port))
    line = the_line(err)
    assert code == 2, err
    assert f"127.0.0.1:{taken_port}" in line and "already in use" in line and "--port" in line, line


@pytest.mark.parametrize(("host", "says"), [("no-such-host.golive-test.invalid", "not a name or address"),
                                            ("192.0.2.1", "not an address of this machine")])
def test_a_bad_host_is_one_line_and_exit_2(tmp_path: Path, host: str, says: str) -> None:
    code, err = serve(tmp_path, "--host", host, "--port", "0")
    line = the_line(err)
    assert code == 2 and says in line and "--host or GOLIVE_HTTP_HOST" in line, line


def test_a_port_out_of_range_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, err = serve(tmp_path, "--host", "127.0.0.1", "--port", "70000")
    line = the_line(err)
    assert code == 2 and "70000" in line and "1024 to 65535" in line, line


def test_a_state_dir_it_cannot_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "state-is-a-file"
    not_a_dir.write_text("")
    code, err = serve(tmp_path, "--host", "127.0.0.1", "--port", "0", GOLIVE_STATE_DIR=str(not_a_dir))
    line = the_line(err)
    assert code == 2, err
    assert str(not_a_dir) in line and "GOLIVE_STATE_DIR" in line, line
    assert "unset it to use the embedded SQLite store" not in line  # it is the embedded SQLite store


def test_a_store_that_refuses_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on: PostgreSQL's connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    code, err = serve(tmp_path, "--host", "127.0.0.1", "--port", "0", GOLIVE_STORE_TIMEOUT="1",
                      GOLIVE_DATABASE_URL=f"postgresql://golive@127.0.0.1:{port}/golive")
    line = the_line(err)
    assert code == 2, err
    assert "cannot start" in line and "PostgreSQL" in line and "GOLIVE_DATABASE_URL" in line, line
    assert "could not decide" not in line  # nothing was being decided: it is the configuration

