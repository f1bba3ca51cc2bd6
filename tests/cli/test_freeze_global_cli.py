"""`golive freeze --global` (issue 25, No cross-talk): with two services in one services file, a global freeze
declared from the terminal holds the promotion gate of each, named in both refusals, and `golive freeze`
lists it as global; lifting it frees both. A freeze declared for one service never holds the other."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.cli.inprocess import golive_in_process
from tests.operators import write_operators
from tests.services.support import write_services


def write_service(root: Path, name: str) -> None:
    """A service in its own folder: one passing check, a two-phase dotenv rollout, U_LEAD and U_DEV in roles
    (U_LEAD may override a freeze)."""
    data = {
        "name": name, "target": {"base_url": "http://127.0.0.1:9"},
        "phases": [{"id": "verify", "checks": [{"id": "env.region", "kind": "env", "criticality": "critical",
                                                "params": {"var": "SVC_REGION", "default": "eu"}}]}],
        "signoffs": {"pre": {"roles": [{"id": "lead", "title": "Lead", "members": ["U_LEAD"]},
                                       {"id": "dev", "title": "Developer", "members": ["U_DEV"]}]}},
        "freeze": {"override_roles": ["lead"]},
        "rollout": {"provider": {"kind": "dotenv", "path": "flags.env"},
                    "phases": [{"id": "phase-1", "flags": {"A": True}, "requires_signoff": []},
                               {"id": "phase-2", "flags": {"A": True, "B": True}, "requires_signoff": []}]},
    }
    folder = root / name
    folder.mkdir()
    (folder / "flags.env").write_text("A=false\nB=false\n")
    (folder / f"{name}.yml").write_text(yaml.safe_dump(data, sort_keys=False))


def setup(tmp_path: Path) -> dict[str, str]:
    for name in ("hunter", "billing"):
        write_service(tmp_path, name)
    write_services(tmp_path, {"hunter": {"checklist": "hunter/hunter.yml"},
                              "billing": {"checklist": "billing/billing.yml"}})
    return {"GOLIVE_SERVICES": str(tmp_path / "services.yml"),
            "GOLIVE_OPERATORS_FILE": str(write_operators(tmp_path, "U_DEV", "U_LEAD", "U_NOBODY"))}


def golive(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return golive_in_process(*args, env=env, cwd=tmp_path)


def ready_to_promote(tmp_path: Path, env: dict[str, str], service: str) -> None:
    """The checks of `service` pass, so only a freeze can hold its promotion."""
    ran = golive(tmp_path, env, "run", "verify", "--service", service)
    assert ran.returncode == 0, ran


def flags(tmp_path: Path, service: str) -> str:
    return (tmp_path / service / "flags.env").read_text()


def test_a_global_freeze_holds_every_services_promotion_until_it_is_lifted(tmp_path: Path) -> None:
    env = setup(tmp_path)
    for service in ("hunter", "billing"):
        ready_to_promote(tmp_path, env, service)

    declared = golive(tmp_path, env, "freeze", "--global", "--until", "2h", "--reason", "company-wide close",
                      "--by", "U_DEV", "--service", "hunter")
    assert declared.returncode == 0, declared
    assert "✅ global: release freeze declared by U_DEV for every service" in declared.stdout

    for service in ("hunter", "billing"):
        listed = golive(tmp_path, env, "freeze", "--service", service)
        assert listed.returncode == 0 and listed.stdout.startswith("global: release freeze declared by U_DEV"), listed
        held = golive(tmp_path, env, "promote", "phase-1", "--service", service, "--by", "U_DEV")
        assert held.returncode == 1, held
        assert "for every service" in held.stdout and "company-wide close" in held.stdout, held.stdout
        assert flags(tmp_path, service) == "A=false\nB=false\n"
    only_global = golive(tmp_path, env, "freeze", "--global")  # listing needs no service
    assert only_global.returncode == 0 and "company-wide close" in only_global.stdout, only_global

    # a service's lift cannot end a global freeze; the global lift ends it everywhere
    wrong = golive(tmp_path, env, "freeze", "--lift", "--by", "U_DEV", "--service", "billing")
    assert wrong.returncode == 1 and "lift it as a global freeze" in wrong.stdout, wrong
    lifted = golive(tmp_path, env, "freeze", "--global", "--lift", "--by", "U_DEV", "--service", "hunter")
    assert lifted.returncode == 0 and "global freeze lifted" in lifted.stdout, lifted
    assert golive(tmp_path, env, "freeze", "--global").stdout.strip() == "no global release freeze is in force"
    for service in ("hunter", "billing"):
        promoted = golive(tmp_path, env, "promote", "phase-1", "--service", service, "--by", "U_DEV")
        assert promoted.returncode == 0, promoted
        assert flags(tmp_path, service).startswith("A=true")


def test_a_freeze_on_one_service_never_holds_the_other(tmp_path: Path) -> None:
    env = setup(tmp_path)
    for service in ("hunter", "billing"):
        ready_to_promote(tmp_path, env, service)
    declared = golive(tmp_path, env, "freeze", "--until", "2h", "--reason", "hunter migration", "--by", "U_DEV",
                      "--service", "hunter")
    assert declared.returncode == 0, declared

    held = golive(tmp_path, env, "promote", "phase-1", "--service", "hunter", "--by", "U_DEV")
    assert held.returncode == 1 and "hunter migration" in held.stdout, held
    assert golive(tmp_path, env, "freeze", "--service", "billing").stdout.strip() == "no release freeze is in force"
    assert golive(tmp_path, env, "freeze", "--global").stdout.strip() == "no global release freeze is in force"
    promoted = golive(tmp_path, env, "promote", "phase-1", "--service", "billing", "--by", "U_DEV")
    assert promoted.returncode == 0, promoted
    assert flags(tmp_path, "billing").startswith("A=true") and flags(tmp_path, "hunter") == "A=false\nB=false\n"


def test_a_global_override_lets_every_service_through_and_needs_an_override_role(tmp_path: Path) -> None:
    env = setup(tmp_path)
    for service in ("hunter", "billing"):
        ready_to_promote(tmp_path, env, service)
    assert golive(tmp_path, env, "freeze", "--global", "--until", "2h", "--reason", "close", "--by", "U_DEV",
                  "--service", "billing").returncode == 0
    refused = golive(tmp_path, env, "freeze", "--global", "--override", "--reason", "hotfix", "--by", "U_DEV",
                     "--service", "billing")
    assert refused.returncode == 1 and "only members of the override roles (lead)" in refused.stdout, refused
    signed = golive(tmp_path, env, "freeze", "--global", "--override", "--reason", "hotfix", "--by", "U_LEAD",
                    "--service", "billing")
    assert signed.returncode == 0 and "override signed for every service" in signed.stdout, signed
    listed = golive(tmp_path, env, "freeze", "--service", "hunter").stdout
    assert listed.startswith("global: ") and listed.rstrip().endswith("(overridden)"), listed
    for service in ("hunter", "billing"):
        assert golive(tmp_path, env, "promote", "phase-1", "--service", service, "--by", "U_DEV").returncode == 0


def test_changing_a_global_freeze_with_several_services_names_the_service_whose_role_acts(tmp_path: Path) -> None:
    env = setup(tmp_path)
    missing = golive(tmp_path, env, "freeze", "--global", "--until", "2h", "--reason", "x", "--by", "U_DEV")
    assert missing.returncode == 2, missing
    assert "add --service NAME (hunter, billing)" in missing.stderr
    outsider = golive(tmp_path, env, "freeze", "--global", "--until", "2h", "--reason", "x", "--by", "U_NOBODY",
                      "--service", "hunter")
    assert outsider.returncode == 1 and "only people mapped to a sign-off role" in outsider.stdout, outsider
    assert golive(tmp_path, env, "freeze", "--global").stdout.strip() == "no global release freeze is in force"
