"""Masking never garbles golive's own messages (issue 17): every fixed sentence golive prints - the Socket
Mode fatal line, doctor's fixes, the help text, each verdict sentence - passes through masking unchanged.

The sentences are collected from the code itself: every string literal and f-string template in bot/ and
checks/ (placeholders filled with a neutral word), the constants, the rendered help of every verb, and
verdicts decided and rendered for check ids full of secret-like words. Templates must survive both
`mask` (foreign text: they reach it inside exception messages and summaries) and `scrub` (the outputs);
whole composed lines, which hold check ids, go through `scrub` as the outputs do."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError

from bot.cli import COMMANDS, build_parser, help_parser
from bot.diagnostics.doctor_report import Finding
from bot.slack.socket_mode import FIX_APP_TOKEN, PERMANENT_ERRORS, app_token_problem
from bot.terminal.render import Style, render_verdict
from checks.loader import parse_checklist
from checks.masking import Masker
from checks.result import CheckResult, Criticality, Status
from checks.verdict import SignoffState, decide

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = "value1"


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def templates() -> list[tuple[str, str]]:
    """(where, text) for every sentence-like literal and f-string template of the code."""
    found = []
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("checks/**/*.py")]):
        if path.name == "masking.py" or "migrations" in path.parts:
            continue  # the masker's own patterns and the SQL of migrations are no sentences
        tree = ast.parse(path.read_text())
        docstrings = _docstrings(tree)
        parts_of_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else PLACEHOLDER
                               for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and id(node) not in parts_of_fstrings:
                text = node.value
            else:
                continue
            if text.count(" ") >= 2 and not text.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE",
                                                                                 "CREATE", "ALTER", "WITH")):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return found


def test_every_template_in_the_code_passes_masking_unchanged() -> None:
    collected = templates()
    assert len(collected) > 1000  # the sweep did find the code's sentences
    m = Masker()
    changed = [(where, text, m.mask(text)) for where, text in collected
               if m.mask(text) != text or m.scrub(text) != text]
    assert changed == []


def test_the_socket_mode_fatal_lines_pass_masking_unchanged() -> None:
    m = Masker()
    assert m.mask(FIX_APP_TOKEN) == FIX_APP_TOKEN and "generate a token" in FIX_APP_TOKEN
    for error in sorted(PERMANENT_ERRORS):
        line = app_token_problem(SlackApiError("refused", {"ok": False, "error": error}))
        assert line is not None and m.mask(line) == line and m.scrub(line) == line, line


def test_doctor_lines_with_their_fixes_pass_masking_unchanged() -> None:
    m = Masker()
    for finding in (Finding.fail("Slack app token", "SLACK_APP_TOKEN is not set", FIX_APP_TOKEN),
                    Finding.warn("Sentry", "GOLIVE_SENTRY_DSN is not set: the bot's own errors are not reported",
                                 "set GOLIVE_SENTRY_DSN to the project's DSN"),
                    Finding.ok("store", "SQLite at golive-state/golive.db answers")):
        assert m.scrub(finding.line()) == finding.line()
        assert "***" not in finding.line()


def test_the_help_of_every_verb_passes_masking_unchanged() -> None:
    m = Masker()
    helps = [help_parser().format_help()]
    for verb in COMMANDS:
        parser = build_parser(verb)
        helps.append(parser.format_help())
        for action in parser._actions:
            for sub in getattr(action, "choices", None) or {}:
                if hasattr(action.choices[sub], "format_help"):
                    helps.append(action.choices[sub].format_help())
    assert len(helps) > len(COMMANDS)
    for text in helps:
        assert m.mask(text) == text and m.scrub(text) == text, text


OUR_IDS = ("api.token_check", "env.sentry_dsn", "secret_scan", "smoke.auth", "security.secrets", "db.password_reset",
           "api.key_rotation", "auth.session_cookie")


@pytest.mark.parametrize("statuses", [("fail", "pass"), ("pass", "fail"), ("pass", "pass"), ("warn", "error")])
def test_each_verdict_sentence_passes_masking_unchanged(statuses: tuple[str, str]) -> None:
    checklist = parse_checklist("name: own\nphases:\n  - id: p\n    checks:\n" + "".join(
        f"      - {{id: {cid}, kind: env, criticality: {crit}, params: {{var: A}}}}\n"
        for cid, crit in zip(OUR_IDS, ("critical", "high", "medium", "low") * 2, strict=True)), "own.yml")
    results = {cid: CheckResult(check_id=cid, kind="env", criticality=Criticality.LOW,
                                status=Status(statuses[i % 2]), summary="200 OK in 3 ms")
               for i, cid in enumerate(OUR_IDS[:6])}  # the last two have not run
    verdict = decide(checklist.all_checks(), results,
                     SignoffState(required=["tech_lead", "security_token_owner"], rejected={"qa": "U1: not yet"}))
    m = Masker()
    sentences = [*verdict.reasons, *verdict.conditions, *verdict.notes, *render_verdict(verdict, Style(False))]
    assert any("has not run" in s for s in sentences)
    for sentence in sentences:
        assert m.scrub(sentence) == sentence, sentence
    assert m.scrub_data(verdict.model_dump(mode="json")) == verdict.model_dump(mode="json")
