"""One verdict, the CLI's real exit codes (issue 10, Done-when 1): n/a is out of the verdict, a v1 500
is NO-GO through the bundled checklist, status exits as it reads, promote is refused with the same
reasons status shows, and a store that cannot be reached is "could not decide" (3), never NO-GO."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.demo import DemoServer, serve_target
from checks.loader import bundled_checklist
from tests.operators import write_operators

HUNTER = str(bundled_checklist("hunter"))


@pytest.fixture
def broken_api(monkeypatch: pytest.MonkeyPatch, isolated_env: None) -> Iterator[DemoServer]:
    """A Hunter-shaped service whose every API call answers 500 (health endpoints still fine)."""
    with serve_target(mode="error_rate", error_fraction=1.0, rate_limit=0) as target:
        monkeypatch.setenv("API_BASE_URL", target.base_url)
        monkeypatch.setenv("ENVIRONMENT", "development")
        yield target


def test_a_check_whose_when_does_not_hold_is_na_and_the_verdict_is_go(
        isolated_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@localhost/db")
    monkeypatch.setenv("COLUMNS", "160")  # the summary column is cut to the terminal's width (xdist sets 80)
    assert main(["run", "guard.localhost", "--checklist", HUNTER, "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "N/A" in out and "not applicable: ENVIRONMENT is development" in out
    assert "Verdict: GO " in out and "has not run" not in out


def test_a_v1_endpoint_answering_500_is_no_go_for_the_smoke_glob_and_the_phase(
        broken_api: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "smoke.*", "--checklist", HUNTER, "--no-color"]) == 1
    out = capsys.readouterr().out
    assert "Verdict: NO-GO" in out and "smoke.leads: HTTP 500" in out
    assert main(["run", "api.*", "--checklist", HUNTER, "--no-color"]) == 1
    assert "api.v1: 3 of 3 v1 endpoint(s) wrong" in capsys.readouterr().out
    assert main(["run", "day3", "--checklist", HUNTER, "--no-color"]) == 1
    out = capsys.readouterr().out
    verdict = out.split("Verdict:", 1)[1]
    assert "NO-GO" in verdict and "api.v1:" in verdict.split("Conditions:")[0]
    assert "guard.localhost" not in verdict  # n/a in development: not a reason, not a condition
    # status reads the same results and exits the same way; --strict changes nothing on a NO-GO
    assert main(["status", "--checklist", HUNTER]) == 1
    assert main(["status", "--checklist", HUNTER, "--strict"]) == 1


def _shop(tmp_path: Path, base_url: str, *, allow_conditional: bool = True) -> str:
    data = {
        "name": "shop", "target": {"base_url": base_url},
        "phases": [{"id": "verify", "checks": [
            {"id": "health.live", "kind": "http", "criticality": "critical",
             "params": {"url": "/healthz/live", "expect_status": [200]}},
            {"id": "api.v1", "kind": "api.v1", "criticality": "high", "criticality_when_5xx": "critical",
             "params": {"urls": [{"url": "/api/v1/leads", "expect_status": [200, 429]}]}},
            {"id": "env.region", "kind": "env", "criticality": "medium", "params": {"var": "GOLIVE_T10_UNSET"}},
        ]}],
        "signoffs": {"pre": {"roles": [{"id": "lead", "title": "Lead", "members": ["U_LEAD"]}]}},
        "rollout": {"provider": {"kind": "dotenv", "path": "target.env"}, "allow_conditional": allow_conditional,
                    "phases": [{"id": "phase-1", "flags": {"APP_ON": True}, "requires_signoff": []}]},
    }
    (tmp_path / "target.env").write_text("APP_ON=false\n")
    path = tmp_path / "shop.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def _status_reasons(out: str) -> list[str]:
    block = out.split("Verdict:", 1)[1].split("Conditions:")[0].split("Missing sign-offs")[0]
    return [line.strip()[2:] for line in block.splitlines()[1:] if line.strip().startswith("- ")]


def test_status_exit_codes_and_promote_refused_with_the_reasons_status_shows(
        isolated_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_OPERATORS_FILE", str(write_operators(tmp_path, "U_LEAD")))
    with serve_target(mode="error_rate", error_fraction=1.0, rate_limit=0) as target:
        path = _shop(tmp_path, target.base_url)
        assert main(["status", "--checklist", path]) == 1  # nothing has run: the critical check has not run
        assert main(["run", "verify", "--checklist", path]) == 1
        capsys.readouterr()
        assert main(["status", "--checklist", path]) == 1
        reasons = _status_reasons(capsys.readouterr().out)
        assert reasons and any(r.startswith("api.v1: 1 of 1 v1 endpoint(s) wrong") for r in reasons)
        assert main(["promote", "phase-1", "--checklist", path, "--by", "U_LEAD"]) == 1
        refusal = capsys.readouterr().out
        for reason in reasons:  # the same reasons, word for word
            assert f"verdict NO-GO: {reason}" in refusal
        assert (tmp_path / "target.env").read_text() == "APP_ON=false\n"

        target.set(mode="healthy")
        assert main(["run", "verify", "--checklist", path]) == 0  # env.region (medium) fails: conditional
        assert main(["status", "--checklist", path]) == 0
        assert main(["status", "--checklist", path, "--strict"]) == 1
        assert main(["run", "verify", "--checklist", path, "--strict"]) == 1
        capsys.readouterr()
        assert main(["promote", "phase-1", "--checklist", path, "--by", "U_LEAD"]) == 0
        out = capsys.readouterr().out
        assert "promoted phase-1" in out and "GO (conditional): env.region:" in out  # the conditions, repeated
        assert (tmp_path / "target.env").read_text() == "APP_ON=true\n"


def test_conditional_promotion_refused_when_the_checklist_forbids_it(
        isolated_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_OPERATORS_FILE", str(write_operators(tmp_path, "U_LEAD")))
    with serve_target(rate_limit=0) as target:
        path = _shop(tmp_path, target.base_url, allow_conditional=False)
        assert main(["run", "verify", "--checklist", path]) == 0
        capsys.readouterr()
        assert main(["promote", "phase-1", "--checklist", path, "--by", "U_LEAD"]) == 1
        assert "rollout.allow_conditional is false: env.region:" in capsys.readouterr().out


def test_an_unreachable_store_is_could_not_decide_never_no_go(
        isolated_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GOLIVE_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/test?connect_timeout=1")
    monkeypatch.setenv("GOLIVE_STORE_TIMEOUT", "1")
    from bot.settings import get_settings

    get_settings.cache_clear()
    assert main(["status", "--checklist", HUNTER]) == 3
    assert "could not decide" in capsys.readouterr().err
    assert main(["run", "env.api_port", "--checklist", HUNTER]) == 3
    assert main(["promote", "phase-1", "--checklist", HUNTER]) == 3
    monkeypatch.setenv("GOLIVE_DATABASE_URL", "mysql://nope")
    get_settings.cache_clear()
    assert main(["status", "--checklist", HUNTER]) == 2  # a wrong URL is configuration, not infrastructure
    assert "GOLIVE_DATABASE_URL must start with" in capsys.readouterr().err
