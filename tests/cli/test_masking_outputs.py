"""Masking through the CLI and the store: an unclosed quote in a target's output no longer corrupts the
stored verdict (issue 18), our own check ids and sentences are printed as written, and the harmless corpus
reaches --json and `status --run` byte for byte while the unclosed-quote secret reaches nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.cli.inprocess import golive_in_process
from tests.secrets_corpus import HARMLESS

UNCLOSED = '{"db_password": "abc-unclosed-9917'
OUR_IDS = ("api.token_check", "env.sentry_dsn", "secret_scan", "smoke.auth", "security.secrets", "api.key_rotation")


def checklist(folder: Path) -> Path:
    (folder / "unclosed.txt").write_text(UNCLOSED)
    (folder / "harmless.txt").write_text("\n".join(HARMLESS) + "\n")
    checks = [
        {"id": "leak.unclosed", "kind": "command", "criticality": "critical", "timeout": 5,
         "params": {"command": ["sh", "-c", f"cat {folder / 'unclosed.txt'}; exit 1"], "pass_target_env": False}},
        {"id": "plain.harmless", "kind": "command", "criticality": "low", "timeout": 5,
         "params": {"command": ["sh", "-c", f"cat {folder / 'harmless.txt'}; exit 1"], "pass_target_env": False}},
        *({"id": check_id, "kind": "command", "criticality": "high", "timeout": 5,
           "params": {"command": ["true"], "pass_target_env": False}} for check_id in OUR_IDS),
    ]
    path = folder / "masking.yml"
    path.write_text(json.dumps({"name": "masking", "settings": {"source": "process"},
                                "phases": [{"id": "p", "title": "Masking", "checks": checks},
                                           {"id": "later", "title": "Not run yet", "checks": [
                                               {"id": "later.token_check", "kind": "command",
                                                "params": {"command": ["true"], "pass_target_env": False}}]}]}))
    return path


def test_an_unclosed_quote_leaves_run_status_and_the_store_readable(tmp_path: Path) -> None:
    path = checklist(tmp_path)
    run = golive_in_process("run", "p", "--checklist", str(path), "--json", cwd=tmp_path)
    assert run.returncode == 1, run.stderr  # NO-GO (the critical check failed), not 2 "validation error"
    payload = json.loads(run.stdout)
    assert "abc-unclosed-9917" not in run.stdout + run.stderr
    by_id = {r["check_id"]: r for r in payload["results"]}
    assert '"db_password": "***' in by_id["leak.unclosed"]["evidence"]["output_tail"]
    # the harmless corpus came through --json byte for byte (the tail: its last lines)
    tail = by_id["plain.harmless"]["evidence"]["output_tail"]
    corpus_lines = {line for text in HARMLESS for line in text.splitlines()}
    assert tail.strip() and all(line in corpus_lines for line in tail.splitlines() if line), tail

    status = golive_in_process("status", "--checklist", str(path), cwd=tmp_path)
    assert status.returncode == 1 and "Traceback" not in status.stderr, status.stderr
    assert "later.token_check: has not run" in status.stdout  # our sentence, not "later.token_check: ***"
    as_json = golive_in_process("status", "--checklist", str(path), "--json", cwd=tmp_path)
    verdict = json.loads(as_json.stdout)["verdict"]
    assert "later.token_check: has not run" in verdict["conditions"] + verdict["reasons"] + verdict["notes"]

    whole = golive_in_process("status", "--run", payload["run_id"], "--checklist", str(path), "--json", cwd=tmp_path)
    stored = json.loads(whole.stdout)
    assert stored["verdict"]["decision"] == payload["verdict"]["decision"]
    assert "abc-unclosed-9917" not in whole.stdout
    with sqlite3.connect(tmp_path / "state" / "golive.db") as db:
        rows = repr(db.execute("SELECT * FROM results").fetchall() + db.execute("SELECT * FROM runs").fetchall())
    assert "abc-unclosed-9917" not in rows
    for (raw,) in sqlite3.connect(tmp_path / "state" / "golive.db").execute("SELECT verdict FROM runs"):
        json.loads(raw)  # every stored verdict is JSON


def test_check_ids_with_secret_words_are_printed_as_written(tmp_path: Path) -> None:
    path = checklist(tmp_path)
    run = golive_in_process("run", "p", "--checklist", str(path), "--no-color", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    for check_id in OUR_IDS:
        assert check_id in run.stdout
    text = golive_in_process("status", "--run", run.stdout.split("Run ")[-1].split()[0], "--checklist", str(path),
                             cwd=tmp_path).stdout
    corpus_lines = {line for chunk in HARMLESS for line in chunk.splitlines()}
    shown = [line[8:] for line in text.split("Evidence (in full):")[1].splitlines()
             if line.startswith("        ") and line.strip()]  # multi-line evidence, in full
    harmless_shown = [line for line in shown if line in corpus_lines]
    assert len(harmless_shown) >= 5, text
    assert [line for line in shown if line not in corpus_lines] == [], text
    assert 'output_tail: {"db_password": "***' in text
