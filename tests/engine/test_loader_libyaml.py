"""Checklists are read by libyaml (the registry loads 50 of them at start) within the bounds the pure-Python
loader kept: nesting depth, alias expansion, size. A file either loader refuses gets the pure-Python message
and line, and every file the pure-Python loader accepts loads to the same value."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from checks import loader
from checks.loader import MAX_DEPTH, ChecklistError, bundled_checklist, parse_checklist
from tests.engine.test_loader_bounds import BILLION_LAUGHS, DEEP, DEEP_BLOCK


def outcome(text: str, *, libyaml: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """What _safe_yaml makes of `text` with or without libyaml: ("ok", value) or ("refused", message)."""
    monkeypatch.setattr(loader, "_LIBYAML", libyaml)
    try:
        return "ok", loader._safe_yaml(text, "f.yml")
    except ChecklistError as exc:
        return "refused", str(exc)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return "refused", (getattr(exc, "problem", None), mark.line if mark else None)


def nested(levels: int, leaf: str) -> str:
    """`x` holding `levels` nested flow sequences around `leaf`, one per line (the depth error names a line)."""
    return "name: deep\nphases: []\nx:\n" + "  [\n" * levels + "  " + leaf + "\n" + "  ]\n" * levels


def test_a_good_checklist_is_composed_by_libyaml_not_the_pure_python_composer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert yaml.__with_libyaml__ and loader._LIBYAML

    def pure_python_composer(*_: object) -> None:
        raise AssertionError("the pure-Python composer ran for a good checklist")

    monkeypatch.setattr(loader._BoundedLoader, "compose_node", pure_python_composer)
    assert len(parse_checklist(bundled_checklist("hunter").read_text(), "hunter.yml").all_checks()) == 37


@pytest.mark.parametrize("text", [
    DEEP, DEEP_BLOCK,
    nested(MAX_DEPTH - 1, "1"),  # the top mapping is level 1, the scalar level 51
    nested(MAX_DEPTH - 1, "[]"),  # so is the empty sequence
    nested(MAX_DEPTH - 1, "*a").replace("x:\n", "a: &a 1\nx:\n"),  # and the alias
    "name: deep\nphases: []\nx:\n" + "- " * 60 + "v\n",  # compact block sequences on one line
], ids=["flow-100000", "block-60", "scalar-51", "empty-51", "alias-51", "compact-60"])
def test_too_deep_is_refused_at_the_same_line_with_or_without_libyaml(text: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fast = outcome(text, libyaml=True, monkeypatch=monkeypatch)
    assert fast[0] == "refused" and f"nested deeper than {MAX_DEPTH} levels" in fast[1], fast
    assert fast == outcome(text, libyaml=False, monkeypatch=monkeypatch)


@pytest.mark.parametrize("libyaml", [True, False])
def test_fifty_levels_are_still_read(libyaml: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    read = outcome(nested(MAX_DEPTH - 2, "1"), libyaml=libyaml, monkeypatch=monkeypatch)
    assert read[0] == "ok" and read[1]["name"] == "deep", read


def test_a_deep_second_document_is_refused_as_a_second_document(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "name: x\nphases: []\n---\n" + "[" * 1000 + "]" * 1000 + "\n"
    fast = outcome(text, libyaml=True, monkeypatch=monkeypatch)
    assert fast == outcome(text, libyaml=False, monkeypatch=monkeypatch)
    assert fast[0] == "refused" and "another document" in str(fast[1])


def test_alias_expansion_is_counted_on_the_libyaml_path(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = outcome(BILLION_LAUGHS, libyaml=True, monkeypatch=monkeypatch)
    assert fast[0] == "refused" and "aliases (*name) expand to more than 10000" in fast[1]
    assert fast == outcome(BILLION_LAUGHS, libyaml=False, monkeypatch=monkeypatch)


@pytest.mark.parametrize("text", [
    "name: t\nphases: [\n  - id: x\n",  # libyaml: "did not find expected node content"
    "name: t\nphases:\n- a\nb: c\n",
    "name: t\nphases: *missing\n",
    "name: t\nx: &a 1\ny: &a 2\n",
    "name: t\nphases: [1, ?]\n",  # libyaml refuses what PyYAML reads: read, as before
])
def test_yaml_libyaml_words_differently_gets_the_pure_python_message_and_line(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert outcome(text, libyaml=True, monkeypatch=monkeypatch) == outcome(text, libyaml=False,
                                                                           monkeypatch=monkeypatch)


def test_broken_copies_of_the_bundled_checklists_load_or_fail_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """200 seeded edits (brackets, colons, anchors, quotes, deletions) of the demo checklist. libyaml reads a
    few spellings PyYAML's scanner refuses (a tab after `key:`, `?` inside a flow scalar): those edits are
    left out of the mix; everything else must agree value for value, message for message."""
    base = bundled_checklist("demo").read_text().replace("?", "/")
    inserts = [*"[]{}:-&*!'\"#\n ,|>%@`\\", "&a ", "*a", "<<: *a\n", "- ", ": ", "---\n"]
    rng = random.Random(25)
    refusals = 0
    for _ in range(200):
        text = base
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text))
            cut = 1 if rng.random() < 0.5 else 0
            text = text[:at] + ("" if rng.random() < 0.3 else rng.choice(inserts)) + text[at + cut:]
        fast = outcome(text, libyaml=True, monkeypatch=monkeypatch)
        assert fast == outcome(text, libyaml=False, monkeypatch=monkeypatch), text
        refusals += fast[0] == "refused"
    assert refusals > 20  # the edits did break files, so the messages were compared
