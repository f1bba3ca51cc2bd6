"""`guard.force_production` runs a real reset script from a temporary repository inside the sandbox:
a script that goes ahead is caught (and never reaches a real tool), one that refuses passes."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import psycopg
import pytest

from checks.loader import parse_checklist
from checks.result import CheckResult, Status
from checks.runner import Runner
from checks.sandbox import SENTINEL_HOST, Sandbox, sanitize_value
from tests.checks.conftest import pg_url

PROD_URL = "postgresql://app@prod-db.invalid/production"

UNGUARDED = """#!/usr/bin/env bash
# Hunter-style reset: guards only on its own DATABASE_URL looking local, not on ENVIRONMENT.
set -euo pipefail
if [[ "${DATABASE_URL:-}" == *"@localhost"* ]]; then echo "local database, fine"; fi
echo "This will DELETE ALL DATA in 5 seconds"
sleep 5
docker-compose exec -T db psql -U app -c "DROP SCHEMA public CASCADE"
docker compose exec -T redis redis-cli flushall
echo "done"
"""

REFUSING = """#!/usr/bin/env bash
set -euo pipefail
if [[ "${DATABASE_URL:-}" == *production* && "${FORCE_PRODUCTION_RESET:-}" != "true" ]]; then
  echo "Refusing to reset a production database; set FORCE_PRODUCTION_RESET=true" >&2
  exit 1
fi
echo "This will DELETE ALL DATA"
sleep 5
docker-compose exec -T db psql -c "DROP SCHEMA public CASCADE"
"""


def repo_with(tmp_path: Path, script: str, check_params: str) -> Path:
    """A temporary repository: scripts/reset_db.sh and a checklist whose one check is the guard."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "scripts" / "reset_db.sh").write_text(script)
    (repo / "golive.yml").write_text(
        "name: t\nphases:\n  - id: p\n    checks:\n"
        f"      - {{id: guard.reset, kind: guard.force_production, timeout: 30, params: {check_params}}}\n")
    return repo


def real_tools(tmp_path: Path) -> tuple[Path, Path]:
    """A directory of file-touching stand-ins for the real docker/docker-compose/psql, and their marker."""
    bindir, marker = tmp_path / "realbin", tmp_path / "REAL-TOOL-WAS-EXECUTED"
    bindir.mkdir()
    for tool in ("docker", "docker-compose", "psql", "redis-cli"):
        path = bindir / tool
        path.write_text(f"#!/bin/sh\necho \"$0 $*\" >> {marker}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return bindir, marker


async def run_guard(repo: Path, env: dict[str, str]) -> CheckResult:
    checklist = parse_checklist((repo / "golive.yml").read_text(), str(repo / "golive.yml"))
    report = await Runner(checklist, env=env).run(checklist.all_checks())
    return report.results[0]


async def test_a_script_that_goes_ahead_fails_and_never_reaches_the_real_docker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir, marker = real_tools(tmp_path)
    path = f"{bindir}{os.pathsep}{os.environ['PATH']}"
    monkeypatch.setenv("PATH", path)  # the real docker is first on the bot's PATH, and on the target's
    repo = repo_with(tmp_path, UNGUARDED, "{command: [bash, scripts/reset_db.sh]}")
    result = await run_guard(repo, {"PATH": path, "DATABASE_URL": "postgresql://app:pw@db.internal:5432/app"})
    assert result.status is Status.FAIL, result.summary
    assert "the guard is missing" in result.summary
    calls = result.evidence["intercepted_calls"]
    assert calls == ["docker-compose exec -T db psql -U app -c 'DROP SCHEMA public CASCADE'",
                     "docker compose exec -T redis redis-cli flushall"]
    assert "DROP SCHEMA public CASCADE" in result.summary and "2 state-changing call(s)" in result.summary
    assert result.evidence["sleep_skipped_s"] == 5  # the sandbox's sleep took the 5 s: it records, never waits
    assert not marker.exists(), f"a real tool ran: {marker.read_text()}"
    assert "DATABASE_URL" in result.evidence["connection_settings_made_unroutable"]


async def test_a_script_that_refuses_on_its_own_variables_passes(tmp_path: Path) -> None:
    params = f"{{command: [bash, scripts/reset_db.sh], flag_var: FORCE_PRODUCTION_RESET, flag_value: 'true', " \
             f"present: {{DATABASE_URL: '{PROD_URL}'}}}}"
    repo = repo_with(tmp_path, REFUSING, params)
    result = await run_guard(repo, {"DATABASE_URL": "postgresql://app@localhost/dev"})
    assert result.status is Status.PASS, result.summary
    assert "refused without FORCE_PRODUCTION_RESET=true (exit 1)" in result.summary
    assert "Refusing to reset a production database" in result.summary
    assert result.evidence["intercepted_calls"] == []
    assert result.evidence["presented"]["DATABASE_URL"] == PROD_URL

    # The flag set permanently in the target's settings: it refuses here, but production would not.
    result = await run_guard(repo, {"FORCE_PRODUCTION_RESET": "true"})
    assert result.status is Status.WARN and "set permanently" in result.summary


async def test_without_the_production_like_setting_the_same_script_is_caught(tmp_path: Path) -> None:
    """The script guards on DATABASE_URL, not ENVIRONMENT: presenting only ENVIRONMENT lets it go ahead."""
    repo = repo_with(tmp_path, REFUSING, "{command: [bash, scripts/reset_db.sh], flag_var: FORCE_PRODUCTION_RESET}")
    result = await run_guard(repo, {"DATABASE_URL": "postgresql://app@localhost/dev"})
    assert result.status is Status.FAIL and "the guard is missing" in result.summary
    assert result.evidence["intercepted_calls"][0].startswith("docker-compose exec -T db psql")


async def test_a_direct_psql_connection_is_intercepted(tmp_path: Path) -> None:
    script = '#!/usr/bin/env bash\nset -e\npsql "$DATABASE_URL" -c "DROP SCHEMA public CASCADE"\n'
    params = f"{{command: [bash, scripts/reset_db.sh], present: {{DATABASE_URL: '{PROD_URL}'}}}}"
    repo = repo_with(tmp_path, script, params)
    result = await run_guard(repo, {})
    assert result.status is Status.FAIL and "the guard is missing" in result.summary
    assert result.evidence["intercepted_calls"] == [f"psql {PROD_URL} -c 'DROP SCHEMA public CASCADE'"]


async def test_a_direct_connection_from_code_fails_against_the_sentinel_and_is_not_a_refusal(
        tmp_path: Path, pg_database: str) -> None:
    """The script's own code connects (no shadowed tool); the real database stays untouched."""
    script = (f'#!/usr/bin/env bash\nset -e\n"{sys.executable}" -c "import os, psycopg; '
              "psycopg.connect(os.environ['DATABASE_URL'], autocommit=True)"
              ".execute('CREATE TABLE wiped_by_reset (id int)')\"\n")
    repo = repo_with(tmp_path, script, "{command: [bash, scripts/reset_db.sh]}")
    real_url = pg_url(pg_database)
    result = await run_guard(repo, {"DATABASE_URL": real_url})
    assert result.status is Status.FAIL, result.summary
    assert "the guard is missing" in result.summary and "tried to connect" in result.summary
    with psycopg.connect(real_url) as conn:
        assert conn.execute("SELECT to_regclass('wiped_by_reset')").fetchone() == (None,)


async def test_a_script_that_cannot_run_is_an_error_not_a_refusal(tmp_path: Path) -> None:
    script = "#!/usr/bin/env bash\nset -e\nno-such-tool-golive --reset\n"
    repo = repo_with(tmp_path, script, "{command: [bash, scripts/reset_db.sh]}")
    result = await run_guard(repo, {})
    assert result.status is Status.ERROR and "could not judge the guard" in result.summary
    assert "exit 127" in result.summary


async def test_the_command_itself_must_not_be_a_shadowed_tool(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, REFUSING, "{command: 'docker compose exec api ./reset.sh'}")
    result = await run_guard(repo, {})
    assert result.status is Status.ERROR and "which the sandbox intercepts" in result.summary


def test_connection_settings_become_unroutable_and_the_bot_environment_stays_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert sanitize_value("DATABASE_URL", "postgresql://app:s3cret@db.prod:5432/app?sslmode=require") == \
        "postgresql://app:golive-sandbox@db.prod.invalid:5432/app?sslmode=require"
    assert sanitize_value("MONGO_URL", "mongodb://h1:27017,h2:27017/x") == \
        "mongodb://h1.invalid:27017,h2.invalid:27017/x"
    assert sanitize_value("DATABASE_URL", "postgresql:///app") == f"postgresql://{SENTINEL_HOST}/app"
    assert sanitize_value("PG_DSN", "host=10.0.0.5 port=5432 dbname=app") == \
        "host=10.0.0.5.invalid port=5432 dbname=app"
    assert sanitize_value("PG_DSN", "dbname=app host=/var/run/postgresql") == \
        f"dbname=app host=/nonexistent/{SENTINEL_HOST}"
    assert sanitize_value("REDIS_HOST", "cache.internal") == "cache.internal.invalid"
    assert sanitize_value("LOG_LEVEL", "INFO") == "INFO"
    monkeypatch.setenv("GOLIVE_DATABASE_URL", "postgresql://bot@store/golive")
    box = Sandbox.create()
    try:
        env = box.environment({"ENVIRONMENT": "production", "BASH_ENV": "/tmp/evil", "PGHOSTADDR": "10.0.0.1"})
    finally:
        box.remove()
    assert "GOLIVE_DATABASE_URL" not in env and "BASH_ENV" not in env and "PGHOSTADDR" not in env
    assert env["PGHOST"] == SENTINEL_HOST and SENTINEL_HOST in env["DOCKER_HOST"]
    assert env["PATH"].startswith(str(box.bin))


DEPLOY = """#!/usr/bin/env bash
set -e
if [[ "${1:-}" == "--dry-run" && "${HONOUR_DRY_RUN:-yes}" == yes ]]; then
  kubectl diff -f k8s/
  echo "dry-run: would apply 3 manifests"
  exit 0
fi
kubectl apply -f k8s/
helm upgrade --install api charts/api
"""


async def test_a_sandboxed_dry_run_that_would_act_fails_and_lists_the_calls(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir, marker = real_tools(tmp_path)
    for tool in ("kubectl", "helm"):
        (bindir / tool).write_text(f"#!/bin/sh\necho \"$0 $*\" >> {marker}\n")
        (bindir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "scripts" / "deploy.sh").write_text(DEPLOY)
    check = ("{id: deploy.dry_run, kind: command, params: {command: [bash, scripts/deploy.sh, --dry-run], "
             "sandbox: true, allow_calls: ['kubectl diff *'], expect_output: dry-run}}")
    (repo / "golive.yml").write_text(f"name: t\nphases:\n  - id: p\n    checks:\n      - {check}\n")

    honest = await run_guard(repo, {})
    assert honest.status is Status.PASS, honest.summary
    assert honest.evidence["intercepted_calls"] == ["kubectl diff -f k8s/"]

    ignoring = await run_guard(repo, {"HONOUR_DRY_RUN": "no"})
    assert ignoring.status is Status.FAIL, ignoring.summary
    assert "would have changed state (2 call(s)" in ignoring.summary
    assert "kubectl apply -f k8s/; helm upgrade --install api charts/api" in ignoring.summary
    assert not marker.exists(), f"a real tool ran: {marker.read_text()}"


HOST_GUARDED = """#!/usr/bin/env bash
# Recognises production by its database host, as some reset scripts do (no ENVIRONMENT test at all).
set -euo pipefail
if [[ "${DATABASE_URL:-}" == *"@prod-db.internal"* && "${FORCE_PRODUCTION:-}" != "yes" ]]; then
  echo "Refusing: production database; set FORCE_PRODUCTION=yes" >&2
  exit 1
fi
docker-compose exec -T db psql -c "DROP SCHEMA public CASCADE"
"""


@pytest.mark.parametrize("hosts, expected", [("[prod-db.internal]", Status.PASS), ("[]", Status.FAIL)])
async def test_production_is_what_the_checklist_defines_it_to_be(
        tmp_path: Path, hosts: str, expected: Status) -> None:
    """`production: {env, hosts}`: the guard presents the checklist's production settings and points the
    database URL at its production host (made unroutable), not only ENVIRONMENT=production."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "scripts" / "reset_db.sh").write_text(HOST_GUARDED)
    (repo / "golive.yml").write_text(
        "name: t\n"
        f"production: {{env: {{APP_ENV: prod}}, hosts: {hosts}}}\n"
        "phases:\n  - id: p\n    checks:\n"
        "      - {id: guard.reset, kind: guard.force_production, timeout: 30, "
        "params: {command: [bash, scripts/reset_db.sh]}}\n")
    from checks.loader import load_checklist

    checklist = load_checklist(repo / "golive.yml")
    env = {"DATABASE_URL": "postgresql://app:pw@10.0.0.5:5432/hunter"}
    report = await Runner(checklist, env=env).run(checklist.all_checks())
    result = report.results[0]
    assert result.status is expected, result.summary
    assert result.evidence["presented"]["APP_ENV"] == "prod"
    if expected is Status.PASS:
        assert "Refusing: production database" in result.summary
    else:
        assert "the guard is missing" in result.summary
