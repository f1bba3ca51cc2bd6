"""Nothing masking does can make stored data unreadable (issue 18): 200 hostile strings - quotes, escapes,
unclosed JSON, YAML, secrets in every shape - go into results, evidence and a verdict, through the real
store (SQLite and PostgreSQL), and each reads back as exactly what was masked before it was written; the
SQLite store is then read by `golive status --run <id> --json`."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store, open_store
from checks.loader import parse_checklist
from checks.masking import masker
from checks.result import CheckResult, Criticality, Status
from checks.verdict import decide
from tests.cli.inprocess import golive_in_process
from tests.conftest import PG_URL
from tests.secrets_corpus import CORPUS, HARMLESS, leaks

_FRAGMENTS = (
    '{"db_password": "abc', '"', '\\"', "\\", '\\\\"', "'", '{"a": "\\u00', '{"p\\u0061ssword": "x', "]}", "[{",
    "password: |\n  block", "token=", 'x": "y', "\\n", "\r\n", "\t", "\x1b[31m", "€ü漢字", "\u2028", "*" * 3,
)


def hostile_strings() -> list[str]:
    """200 strings: the secret corpus, the harmless corpus, and fragments that break naive JSON editing."""
    found = [form.text for form in CORPUS] + list(HARMLESS)
    for a, b in itertools.product(_FRAGMENTS, repeat=2):
        if len(found) >= 200:
            break
        found.append(f"{a}secret-{len(found)}{b}")
    return found[:200]


CHECKLIST = parse_checklist("""
name: hostile
phases:
  - id: p
    checks:
""" + "".join(f"      - {{id: c{i}, kind: env, criticality: critical, params: {{var: A}}}}\n" for i in range(200)),
    "hostile.yml")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = open_store(None, sqlite_path=tmp_path / "state" / "golive.db")
    else:
        s = open_store(PG_URL, schema=request.getfixturevalue("pg_schema"))
    yield s
    s.close()


def test_two_hundred_hostile_strings_read_back_as_masked(store: Store, tmp_path: Path) -> None:
    strings = hostile_strings()
    assert len(strings) == 200 and len(set(strings)) == 200
    run = store.create_run(checklist="hostile", selector="p", expected=CHECKLIST.all_checks())
    written = [CheckResult(check_id=f"c{i}", kind="env", phase="p", criticality=Criticality.CRITICAL,
                           status=Status.FAIL, summary=text, evidence={"output_tail": text, "nested": {"x": [text]}})
               for i, text in enumerate(strings)]
    for result in written:
        store.add_result(run.id, result)
    results = {r.check_id: r for r in store.results(run.id)}
    for i, text in enumerate(strings):
        back = results[f"c{i}"]
        assert back.summary == masker.mask(text), repr(text)
        assert back.evidence == masker.mask_data({"output_tail": text, "nested": {"x": [text]}}), repr(text)
    verdict = decide(CHECKLIST.all_checks(), results)
    store.finish_run(run.id, verdict)
    again = store.get_run(run.id)  # a verdict that did not parse raised "validation error for Verdict" here
    assert again is not None and again.verdict is not None
    assert again.verdict.model_dump(mode="json") == masker.scrub_data(verdict.model_dump(mode="json"))
    assert leaks(json.dumps(again.verdict.model_dump(mode="json"))) == []
    if store.db.dialect == "sqlite":
        shown = golive_in_process("status", "--run", run.id, "--json", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        payload = json.loads(shown.stdout)
        assert [r["summary"] for r in payload["results"]] == [results[f"c{i}"].summary for i in range(200)]
        assert leaks(shown.stdout) == []
