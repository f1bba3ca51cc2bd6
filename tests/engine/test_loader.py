"""The checklist loader accepts the bundled files and names the file and key path of every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.loader import ChecklistError, bundled_checklist, load_checklist, parse_checklist, select_checks

MINIMAL = """
name: t
phases:
  - id: day1
    checks:
      - id: a
        kind: env
        params: {var: A}
"""


def test_bundled_hunter_checklist_loads_with_the_seeds_three_days() -> None:
    checklist = load_checklist(bundled_checklist("hunter"))
    assert [p.id for p in checklist.phases] == ["day1", "day2", "day3"]
    ids = {c.id for c in checklist.all_checks()}
    for expected in ("env.database_url", "db.connect", "redis.ping", "backup.restore_dry_run",
                     "migration.current", "schema.columns", "health.ready", "guard.localhost", "api.legacy"):
        assert expected in ids
    assert [p.id for p in checklist.rollout.phases] == ["phase-1", "phase-2", "phase-3"]


def test_bundled_demo_checklist_loads() -> None:
    checklist = load_checklist(bundled_checklist("demo"))
    assert checklist.demo


def test_bad_yaml_names_file_and_line() -> None:
    with pytest.raises(ChecklistError) as err:
        parse_checklist("name: t\nphases: [\n  - id: x\n", "broken.yml")
    assert err.value.file == "broken.yml"
    assert "invalid YAML" in str(err.value) and "line" in str(err.value)


def test_unknown_kind_names_the_key_path_and_suggests() -> None:
    text = MINIMAL.replace("kind: env", "kind: redis.pingg")
    with pytest.raises(ChecklistError) as err:
        parse_checklist(text, "x.yml")
    assert err.value.key_path == "phases[0].checks[0].kind"
    assert "unknown check kind 'redis.pingg'" in str(err.value) and "redis.ping" in str(err.value)


def test_missing_param_names_the_param() -> None:
    text = MINIMAL.replace("params: {var: A}", "params: {}")
    with pytest.raises(ChecklistError) as err:
        parse_checklist(text, "x.yml")
    assert err.value.key_path == "phases[0].checks[0].params.var"
    assert "required" in err.value.problem.lower()


def test_misspelt_param_is_rejected() -> None:
    text = MINIMAL.replace("params: {var: A}", "params: {var: A, equal: x}")
    with pytest.raises(ChecklistError) as err:
        parse_checklist(text, "x.yml")
    assert err.value.key_path == "phases[0].checks[0].params.equal"


def test_wrong_type_is_reported_but_an_interpolated_value_is_accepted() -> None:
    with pytest.raises(ChecklistError) as err:
        parse_checklist(MINIMAL.replace("params: {var: A}", "params: {var: A, min: lots}"), "x.yml")
    assert err.value.key_path == "phases[0].checks[0].params.min"
    parse_checklist(MINIMAL.replace("params: {var: A}", "params: {var: A, min: '${MIN_POOL}'}"), "x.yml")


def test_unknown_top_level_key_and_missing_phases() -> None:
    with pytest.raises(ChecklistError) as err:
        parse_checklist("name: t\nphase: []\n", "x.yml")
    assert err.value.key_path in ("phases", "phase")


def test_duplicate_ids_unknown_needs_and_cycles_are_rejected() -> None:
    dup = MINIMAL + "      - id: a\n        kind: env\n        params: {var: B}\n"
    with pytest.raises(ChecklistError, match="already used"):
        parse_checklist(dup)
    needs = MINIMAL.replace("params: {var: A}", "params: {var: A}\n        needs: [zzz]")
    with pytest.raises(ChecklistError, match="needs unknown check 'zzz'"):
        parse_checklist(needs)
    cycle = """
name: t
phases:
  - id: p
    checks:
      - {id: a, kind: env, params: {var: A}, needs: [b]}
      - {id: b, kind: env, params: {var: B}, needs: [a]}
"""
    with pytest.raises(ChecklistError, match="dependency cycle"):
        parse_checklist(cycle)


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ChecklistError, match="--checklist"):
        load_checklist(tmp_path / "nope.yml")


def test_select_by_phase_check_glob_and_pulls_in_dependencies() -> None:
    checklist = load_checklist(bundled_checklist("hunter"))
    assert {c.id for c in select_checks(checklist, "day1")} >= {"db.connect", "redis.ping"}
    assert [c.id for c in select_checks(checklist, "redis.roundtrip")] == ["redis.ping", "redis.roundtrip"]
    assert {c.id for c in select_checks(checklist, "smoke.*")} >= {"smoke.rate_limit", "smoke.cache"}
    with pytest.raises(LookupError, match="day1"):
        select_checks(checklist, "day11")
