"""GOLIVE_ROLES gives sign-off roles their people without editing the checklist."""

from __future__ import annotations

import pytest

from bot.signoff.roles import RoleConfigError, apply_roles, parse_roles
from checks.loader import bundled_checklist, load_checklist


def test_users_and_slack_groups_are_told_apart() -> None:
    assert parse_roles("tech_lead=U01ABC, W02DEF;devops_lead=S0GROUP1") == {
        "tech_lead": (["U01ABC", "W02DEF"], []), "devops_lead": ([], ["S0GROUP1"])}


def test_configured_people_join_every_stage_that_has_the_role() -> None:
    checklist = load_checklist(bundled_checklist("hunter"))
    apply_roles(checklist, "tech_lead=U01ABC;qa_lead=6f1c2a7e-0000-4000-8000-000000000001")
    tech_leads = [r for s in checklist.signoffs.values() for r in s.roles if r.id == "tech_lead"]
    assert len(tech_leads) == 2 and all(r.members == ["U01ABC"] for r in tech_leads)


def test_unknown_roles_and_malformed_entries_are_refused_with_the_fix() -> None:
    checklist = load_checklist(bundled_checklist("hunter"))
    with pytest.raises(RoleConfigError, match="unknown role"):
        apply_roles(checklist, "cto=U1")
    with pytest.raises(RoleConfigError, match="role_id=U123"):
        apply_roles(checklist, "tech_lead")


def test_a_checklist_without_signoffs_gets_the_default_roles() -> None:
    checklist = load_checklist(bundled_checklist("demo"))
    apply_roles(checklist, "product_owner=U9")
    assert [r.members for r in checklist.signoffs["pre"].roles if r.id == "product_owner"] == [["U9"]]


@pytest.mark.parametrize("spec", ["tech_lead=U1 U2", "tech_lead=*", "tech_lead=U1,*", "tech_lead=U1;qa_lead=U2\tU3"])
def test_ids_with_spaces_or_wildcards_are_refused_instead_of_matching_nobody(spec: str) -> None:
    with pytest.raises(RoleConfigError, match="not a user or group id") as caught:
        parse_roles(spec)
    assert "Separate ids with commas" in str(caught.value) and "wildcards" in str(caught.value)


def test_the_cli_refuses_a_bad_golive_roles_at_start_up_with_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                                    isolated_env: None,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    monkeypatch.setenv("GOLIVE_ROLES", "tech_lead=U1 U2")
    assert main(["status"]) == 2
    assert "'U1 U2' is not a user or group id" in capsys.readouterr().err
