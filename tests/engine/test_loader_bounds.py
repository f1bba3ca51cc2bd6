"""Hostile checklists are refused quickly, with little memory and a clear message (exit 2 in the CLI):
over 1 MB, billion-laughs aliases, nesting deeper than 50 levels. "Quickly" is CPU time of this thread with a
wide margin (a refusal costs about 0.25 s of CPU; expanding the bomb or recursing would cost far more), never
wall time, which a busy machine stretches."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from bot.cli import main
from checks.loader import MAX_CHECKLIST_BYTES, ChecklistError, load_checklist, parse_checklist

BILLION_LAUGHS = "\n".join([
    "name: lol",
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    *(f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)),
    "phases: [{id: p, checks: [{id: c, kind: env, params: {var: X, bomb: *i}}]}]",
])
DEEP = "name: deep\nphases: []\nx: " + "[" * 100_000 + "]" * 100_000 + "\n"
DEEP_BLOCK = "name: deep\nphases: []\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(60)) + "  " * 60 + "v: 1\n"


def refused(text: str) -> tuple[ChecklistError, float, int]:
    tracemalloc.start()
    started = time.thread_time()  # CPU of this thread: other processes loading the machine do not count
    try:
        with pytest.raises(ChecklistError) as caught:
            parse_checklist(text, "hostile.yml")
        return caught.value, time.thread_time() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_billion_laughs_is_refused_fast_and_small() -> None:
    error, cpu_seconds, peak = refused(BILLION_LAUGHS)
    assert "aliases" in str(error) and "hostile.yml" in str(error)
    assert cpu_seconds < 5 and peak < 20_000_000, (cpu_seconds, peak)


@pytest.mark.parametrize("text", [DEEP, DEEP_BLOCK], ids=["flow-100000", "block-60"])
def test_deep_nesting_is_refused_without_recursion_error(text: str) -> None:
    error, cpu_seconds, _ = refused(text)
    assert "nested deeper than 50 levels" in str(error)
    assert cpu_seconds < 5, f"{cpu_seconds:.2f} s of CPU to refuse it"


def test_a_few_aliases_are_still_fine() -> None:
    checklist = parse_checklist("name: ok\nphases: [{id: p, checks: [{id: c, kind: env, params: &p {var: X}},"
                                " {id: e, kind: env, params: *p}]}]\n", "ok.yml")
    assert [c.id for c in checklist.all_checks()] == ["c", "e"]


def test_files_over_one_megabyte_are_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yml"
    path.write_text("name: big\nphases: []\n#" + "x" * MAX_CHECKLIST_BYTES)
    with pytest.raises(ChecklistError, match="larger than 1 MB"):
        load_checklist(path)


@pytest.mark.parametrize("text", [BILLION_LAUGHS, DEEP, "name: big\n#" + "x" * MAX_CHECKLIST_BYTES],
                         ids=["billion-laughs", "deep", "over-1MB"])
def test_the_cli_exits_2_with_the_reason(text: str, tmp_path: Path, isolated_env: None,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hostile.yml"
    path.write_text(text)
    assert main(["run", "--checklist", str(path)]) == 2
    err = capsys.readouterr().err
    assert "hostile.yml" in err and ("aliases" in err or "nested" in err or "1 MB" in err)
    assert "Traceback" not in err


def _nested(depth: int, leaf: str) -> str:
    return "name: n\nphases: []\nx: " + "[" * depth + leaf + "]" * depth + "\n"


LOADER_CASES = {
    **{f"flow-{d}{'-scalar' if leaf else ''}": _nested(d, leaf) for d in (48, 49, 50) for leaf in ("", "1")},
    "block-48": "name: n\nphases: []\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(48)) + "  " * 48 + "v: 1\n",
    "block-49": "name: n\nphases: []\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(49)) + "  " * 49 + "v: 1\n",
    "flow-unclosed": "name: x\nphases:\n  - id: p\n    checks: [\n",
    "tab-indent": "name: x\nphases:\n\t- id: p\n",
    "two-documents": "name: x\nphases: []\n---\nname: y\n",
    "python-tag": "name: !!python/object:os.system x\nphases: []\n",
}


@pytest.mark.parametrize("text", LOADER_CASES.values(), ids=LOADER_CASES.keys())
def test_the_libyaml_path_accepts_refuses_and_words_errors_exactly_as_the_python_composer(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checklists compose with libyaml (fast, but recursive in C) after an event walk that refuses deep
    nesting; the pure-Python composer is the reference: the same depth is the limit, and invalid YAML is
    reported in its words (a tab is named as '\\t', not "character that cannot start any token")."""
    import checks.loader

    def outcome() -> str:
        try:
            return repr(parse_checklist(text, "f.yml").model_dump())
        except (ChecklistError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"

    assert checks.loader._LIBYAML, "PyYAML without libyaml: this compares nothing"
    fast = outcome()
    monkeypatch.setattr(checks.loader, "_LIBYAML", False)
    assert fast == outcome()
