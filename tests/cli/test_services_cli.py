"""`golive` over many services (GOLIVE_SERVICES): a bad registry is exit 2 naming the service and the field for
every verb; `--service NAME` picks one (the only one by default, "did you mean" for a typo); `status --all`
is one table exiting with the worst verdict's code; `doctor` checks every service's roles."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli.inprocess import golive_in_process
from tests.operators import write_operators
from tests.services.support import two_services, write_checklist, write_services
from tests.slack.support import BOT_TOKEN, CHANNEL, SlackStub


def golive(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return golive_in_process(*args, env={"GOLIVE_SERVICES": str(tmp_path / "services.yml"), **(env or {})},
                             cwd=tmp_path)


@pytest.mark.parametrize("verb", [["run"], ["status"], ["status", "--all"], ["doctor"], ["waive", "--list"],
                                  ["freeze"], ["history"], ["serve"]])
def test_a_bad_registry_is_exit_2_with_one_line_naming_the_service_and_the_field(tmp_path: Path,
                                                                                 verb: list[str]) -> None:
    two_services(tmp_path)
    (tmp_path / "services.yml").write_text((tmp_path / "services.yml").read_text().replace("C0BILLING", "C0HUNTER1"))
    done = golive(tmp_path, *verb)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("golive: GOLIVE_SERVICES (") and "service 'billing': channels.slack: C0HUNTER1 is " \
        "already the release channel of 'hunter'" in lines[0]


@pytest.mark.parametrize(("change", "service", "field"), [
    ({"hunter": {"checklist": "checklists/hunter.yml", "colour": "red"}}, "hunter", "colour"),
    ({"billing": {"checklist": "missing.yml"}}, "billing", "checklist"),
    ({"billing": {"checklist": "billing.yml", "roles": {"tech_lead": ["*"]}}}, "billing", "roles"),
    ({"billing": {"checklist": "billing.yml", "roles": {"cfo": ["U01"]}}}, "billing", "roles"),
    ({"Billing": {"checklist": "billing.yml"}}, "Billing", "name"),
    ({"run": {"checklist": "billing.yml"}}, "run", "name"),
])
def test_every_kind_of_registry_mistake_stops_the_cli_naming_the_service_and_the_field(
        tmp_path: Path, change: dict[str, object], service: str, field: str) -> None:
    two_services(tmp_path)
    text = (tmp_path / "services.yml").read_text()
    data = yaml.safe_load(text)
    data["services"] = {**{k: v for k, v in data["services"].items() if k != "billing"}, **change}
    (tmp_path / "services.yml").write_text(yaml.safe_dump(data))
    done = golive(tmp_path, "status", "--service", "hunter")
    assert done.returncode == 2, done
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"service {service!r}: {field}:" in done.stderr


def test_golive_services_with_golive_checklist_asks_to_pick_one(tmp_path: Path) -> None:
    two_services(tmp_path)
    done = golive(tmp_path, "status", env={"GOLIVE_CHECKLIST": str(tmp_path / "billing.yml")})
    assert done.returncode == 2 and "both GOLIVE_SERVICES and GOLIVE_CHECKLIST are set: pick one" in done.stderr


def test_with_several_services_a_verb_without_service_lists_the_names(tmp_path: Path) -> None:
    two_services(tmp_path)
    for verb in (["status"], ["run", "verify"], ["freeze"], ["promote", "phase-1"]):
        done = golive(tmp_path, *verb)
        assert done.returncode == 2, done
        assert "2 services are configured (hunter, billing): name one with --service NAME" in done.stderr


def test_an_unknown_service_suggests_the_nearest_name(tmp_path: Path) -> None:
    two_services(tmp_path)
    done = golive(tmp_path, "status", "--service", "biling")
    assert done.returncode == 2
    assert "no service 'biling' (did you mean billing?); the services are hunter, billing" in done.stderr
    far = golive(tmp_path, "run", "--service", "zzz")
    assert far.returncode == 2 and "did you mean" not in far.stderr and "no service 'zzz'" in far.stderr


def test_service_selects_the_checklist_a_verb_acts_on_and_status_all_exits_with_the_worst(tmp_path: Path) -> None:
    two_services(tmp_path)
    ran = golive(tmp_path, "run", "verify", "--service", "hunter", "--json")
    assert ran.returncode == 0, ran
    assert json.loads(ran.stdout)["checklist"] == "hunter"
    assert golive(tmp_path, "status", "--service", "hunter").returncode == 0  # GO (sign-offs are conditions)
    billing = golive(tmp_path, "status", "-s", "billing")
    assert billing.returncode == 1 and "env.region: has not run" in billing.stdout  # its own results: none

    every = golive(tmp_path, "status", "--all")
    assert every.returncode == 1, every  # the worst verdict: billing's NO-GO
    header, *rows = every.stdout.strip().splitlines()
    assert header.split() == ["SERVICE", "VERDICT", "ROLLOUT", "INCIDENTS", "MISSING", "SIGN-OFFS"]
    cells = {row.split()[0]: row.split() for row in rows}
    assert set(cells) == {"hunter", "billing"}
    assert cells["billing"][1] == "NO-GO" and cells["hunter"][1:3] == ["GO", "(conditional)"]
    assert "Tech Lead (pre)" in every.stdout
    as_json = json.loads(golive(tmp_path, "status", "--all", "--json").stdout)
    assert {line["service"]: line["exit_code"] for line in as_json} == {"hunter": 0, "billing": 1}
    assert all(line["open_incidents"] == 0 and line["rollout_phase"] is None for line in as_json)

    assert golive(tmp_path, "run", "verify", "--service", "billing").returncode == 0
    assert golive(tmp_path, "status", "--all").returncode == 0  # both GO now
    assert golive(tmp_path, "status", "--all", "--strict").returncode == 1  # conditional counts as failure
    refused = golive(tmp_path, "status", "--all", "--service", "hunter")
    assert refused.returncode == 2 and "leave out --run and --service" in refused.stderr


def test_a_single_checklist_needs_no_service_and_answers_to_its_own_name(tmp_path: Path) -> None:
    path = write_checklist(tmp_path, "shop")
    env = {"GOLIVE_CHECKLIST": str(path)}
    assert golive_in_process("run", "verify", env=env, cwd=tmp_path).returncode == 0
    assert golive_in_process("status", env=env, cwd=tmp_path).returncode == 0
    assert golive_in_process("status", "--service", "shop", env=env, cwd=tmp_path).returncode == 0
    wrong = golive_in_process("status", "--service", "shp", env=env, cwd=tmp_path)
    assert wrong.returncode == 2 and "did you mean shop?" in wrong.stderr
    one = golive_in_process("status", "--all", env=env, cwd=tmp_path)
    assert one.returncode == 0 and one.stdout.splitlines()[1].split()[:2] == ["shop", "GO"]


def test_a_folder_of_checklists_serves_each_by_its_name(tmp_path: Path) -> None:
    write_checklist(tmp_path / "svc", "payments")
    write_checklist(tmp_path / "svc", "search")
    env = {"GOLIVE_SERVICES": str(tmp_path / "svc")}
    ran = golive_in_process("run", "verify", "--service", "search", "--json", env=env, cwd=tmp_path)
    assert ran.returncode == 0 and json.loads(ran.stdout)["checklist"] == "search"
    every = golive_in_process("status", "--all", "--json", env=env, cwd=tmp_path)
    assert {line["service"]: line["verdict"] for line in json.loads(every.stdout)} == {
        "payments": "NO-GO", "search": "GO (conditional)"}


async def test_doctor_checks_every_services_roles_against_real_users(tmp_path: Path) -> None:
    write_checklist(tmp_path, "hunter")
    write_checklist(tmp_path, "billing")
    write_services(tmp_path, {
        "hunter": {"checklist": "hunter.yml", "roles": {"tech_lead": ["U0TECH"], "devops_lead": ["U0DEV"],
                                                        "product_owner": ["U0PO"]}},
        "billing": {"checklist": "billing.yml", "roles": "tech_lead=U0GONE1;devops_lead=U0DEV;product_owner=U0PO"},
    })
    stub = await SlackStub().start()
    try:
        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "GOLIVE_SLACK_API_URL": stub.api_url, "GOLIVE_SLACK_CHANNEL": CHANNEL}
        done = await asyncio.to_thread(golive, tmp_path, "doctor", env=env)
        only = await asyncio.to_thread(golive, tmp_path, "doctor", "--service", "hunter", env=env)
    finally:
        await stub.close()
    out = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout  # billing's tech lead does not resolve
    assert any(line.startswith("ok    hunter: checklist:") for line in out)
    assert any(line.startswith("ok    billing: checklist:") for line in out)
    assert any(line.startswith("ok    hunter: role tech_lead (pre): 1 Slack user(s)") for line in out)
    gone = [line for line in out if line.startswith("FAIL  billing: role tech_lead (pre):")]
    assert gone and "U0GONE1 (user_not_found)" in gone[0], done.stdout
    assert not any(line.startswith("FAIL  hunter: role tech_lead") for line in out)
    assert sum(line.startswith("ok    Slack bot token") for line in out) == 1  # the token once, not per service
    hunter = only.stdout.splitlines()  # one service named: its lines, without a prefix
    assert any(line.startswith("ok    role tech_lead (pre): 1 Slack user(s)") for line in hunter), only.stdout
    assert "billing" not in only.stdout and "hunter: " not in only.stdout and "U0GONE1" not in only.stdout


def test_a_services_roles_decide_who_may_act_on_it_from_the_cli(tmp_path: Path) -> None:
    """U0TECH holds tech_lead for hunter only (billing has no roles and GOLIVE_ROLES is unset): a waiver
    on hunter is granted, the same on billing is refused."""
    two_services(tmp_path)
    env = {"GOLIVE_OPERATORS_FILE": str(write_operators(tmp_path, "U0TECH"))}
    granted = golive(tmp_path, "waive", "env.region", "2h", "known", "--service", "hunter", env=env)
    assert granted.returncode == 0, granted
    assert "env.region" in granted.stdout and "✅" in granted.stdout
    refused = golive(tmp_path, "waive", "env.region", "2h", "known", "--service", "billing", env=env)
    assert refused.returncode == 1, refused
    assert "⛔ waive refused: only people mapped to a sign-off role" in refused.stdout
    listed = golive(tmp_path, "waive", "--list", "--service", "hunter", env=env)
    assert "env.region" in listed.stdout
