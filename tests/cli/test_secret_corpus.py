"""No secret of the corpus (tests/secrets_corpus.py) leaves the process: a hostile target hands every form
out in HTTP 500 bodies and command output, and each value is searched for in the CLI's text and --json,
the store's rows, the logs and what Sentry would be sent."""

from __future__ import annotations

import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.diagnostics.observability import scrub_event, setup_logging
from tests.secrets_corpus import CORPUS, SECRET_VALUES, hostile_target, leaks, leaky_checklist


def test_the_corpus_has_at_least_eighty_forms() -> None:
    assert len(CORPUS) >= 80 and len(set(SECRET_VALUES)) == len(SECRET_VALUES)


@pytest.fixture
def leaky(tmp_path: Path, isolated_env: None) -> Path:
    with hostile_target() as base_url:
        yield leaky_checklist(tmp_path, base_url)


def store_dump(state: Path) -> str:
    """Every row of every table of the SQLite store, as text."""
    with sqlite3.connect(state / "golive.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for table in tables for row in db.execute(f"SELECT * FROM {table}"))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_output_and_store_rows_hold_no_corpus_secret(leaky: Path, tmp_path: Path, fmt: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "leaks", "--checklist", str(leaky), *(["--json"] if fmt == "json" else [])])
    out, err = capsys.readouterr()
    assert code in (0, 1), err  # low-criticality failures: a verdict, not a crash
    if fmt == "json":
        payload = json.loads(out)
        evidence = json.dumps([r["evidence"] for r in payload["results"]])
        assert "body_excerpt" in evidence and "output_tail" in evidence  # the bodies did reach the output
    else:
        assert "leak.http.0" in out
    assert leaks(out) == [] and leaks(err) == []
    rows = store_dump(tmp_path / "state")
    assert "leak.cmd.52" in rows or "leak.cmd." in rows
    assert leaks(rows) == []


def test_logs_never_show_a_corpus_secret_in_text_or_json() -> None:
    for fmt in ("text", "json"):
        stream = io.StringIO()
        setup_logging(stream=stream, fmt=fmt, level="INFO")
        log = logging.getLogger("golive.test.corpus")
        for form in CORPUS:
            log.warning("target said: %s", form.text, extra={"body": form.text, "data": {"answer": form.text}})
            try:
                raise RuntimeError(form.text)
            except RuntimeError:
                log.exception("check failed")
        assert leaks(stream.getvalue()) == [], fmt
        assert "target said" in stream.getvalue()


def test_sentry_events_never_carry_a_corpus_secret() -> None:
    for form in CORPUS:
        event = {"message": form.text, "extra": {"body": form.text},
                 "exception": {"values": [{"type": "RuntimeError", "value": form.text}]},
                 "request": {"url": "http://bot/slack/events", "headers": {"X-Note": form.text}}}
        if form.is_json:
            event["contexts"] = {"answer": json.loads(form.text)}
        assert leaks(json.dumps(scrub_event(event))) == [], form.label


def test_cli_masks_psycopg_pool_warnings_about_a_malformed_store_url(tmp_path: Path) -> None:
    """A GOLIVE_DATABASE_URL psycopg cannot use makes psycopg_pool log warnings quoting the connection
    string; the CLI's logging must mask them like the bot's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "SLACK_"))}
    env.update(GOLIVE_STATE_DIR=str(tmp_path / "state"), PYTHONPATH=str(Path(__file__).parents[2]),
               GOLIVE_DATABASE_URL="postgresql://app:Store-P@ss-31337@127.0.0.1:1/db",
               GOLIVE_STORE_TIMEOUT="1")  # the pool warns on its first refused attempt: no need to wait 5 s
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "status"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode in (2, 3) and "cannot reach the PostgreSQL store" in output, output
    assert "Traceback" not in output
    assert "error connecting" in output  # psycopg_pool's warnings are shown, masked
    assert "Store-P" not in output and "ss-31337" not in output, output
