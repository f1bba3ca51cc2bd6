"""`env`, `flags` and `guard.*` checks judge the target's settings the way the go-live plan says."""

from __future__ import annotations

from pathlib import Path

from checks.loader import parse_checklist
from checks.result import Status
from checks.runner import Runner


def one(check_yaml: str, env: dict[str, str], extra: str = "", tmp: Path | None = None):
    text = "name: t\nphases:\n  - id: p\n    checks:\n      - " + check_yaml + "\n" + extra
    cl = parse_checklist(text, str((tmp or Path.cwd()) / "t.yml"))

    async def go():
        report = await Runner(cl, env=env).run(cl.all_checks())
        return report.results[0]

    return go()


async def test_environment_must_equal_production() -> None:
    check = "{id: e, kind: env, params: {var: ENVIRONMENT, equals: production}}"
    assert (await one(check, {"ENVIRONMENT": "production"})).status is Status.PASS
    r = await one(check, {"ENVIRONMENT": "staging"})
    assert r.status is Status.FAIL and "expected production, got staging" in r.summary
    r = await one(check, {})
    assert r.status is Status.FAIL and "ENVIRONMENT is not set" in r.summary


DB_CHECK = ("{id: d, kind: env, params: {var: DATABASE_URL, secret: true, url_schemes: [postgresql], "
            "url_query: {sslmode: require}, url_query_when: {ENVIRONMENT: production}}}")


async def test_database_url_needs_sslmode_in_production_and_never_shows_the_password() -> None:
    env = {"ENVIRONMENT": "production", "DATABASE_URL": "postgresql://app:Zx9-very-secret@db.prod/app"}
    r = await one(DB_CHECK, env)
    assert r.status is Status.FAIL and "sslmode=require required when ENVIRONMENT=production" in r.summary
    assert "Zx9-very-secret" not in r.model_dump_json()
    env["DATABASE_URL"] += "?sslmode=require"
    assert (await one(DB_CHECK, env)).status is Status.PASS
    staging = {"ENVIRONMENT": "staging", "DATABASE_URL": "postgresql://app:pw@db/app"}
    assert (await one(DB_CHECK, staging)).status is Status.PASS


async def test_wrong_scheme_is_reported() -> None:
    r = await one(DB_CHECK, {"DATABASE_URL": "mysql://u:p@h/d"})
    assert r.status is Status.FAIL and "scheme mysql is not one of postgresql" in r.summary


async def test_log_level_debug_is_refused_and_default_values_are_used_when_unset() -> None:
    check = "{id: l, kind: env, params: {var: LOG_LEVEL, one_of: [INFO, WARNING], not_one_of: [DEBUG]}}"
    assert (await one(check, {"LOG_LEVEL": "DEBUG"})).status is Status.FAIL
    assert (await one(check, {"LOG_LEVEL": "info"})).status is Status.PASS
    port = "{id: port, kind: env, params: {var: API_PORT, default: '8000', equals: '8000'}}"
    r = await one(port, {})
    assert r.status is Status.PASS and "(default)" in r.summary


async def test_sentry_dsn_shape_is_checked_without_revealing_it() -> None:
    check = r"{id: s, kind: env, params: {var: DSN, secret: true, pattern: 'https://[0-9a-f]+@[a-z0-9.\-]+/\d+'}}"
    good = "https://0123456789abcdef@o1.ingest.sentry.io/42"
    r = await one(check, {"DSN": good})
    assert r.status is Status.PASS and "0123456789abcdef" not in r.model_dump_json()
    r = await one(check, {"DSN": "not-a-dsn-value"})
    assert r.status is Status.FAIL and "not-a-dsn-value" not in r.model_dump_json()


async def test_integer_bounds() -> None:
    check = "{id: i, kind: env, params: {var: POOL, integer: true, min: 1}}"
    assert (await one(check, {"POOL": "20"})).status is Status.PASS
    assert "whole number" in (await one(check, {"POOL": "twenty"})).summary
    assert "below the minimum" in (await one(check, {"POOL": "0"})).summary


ROLLOUT = """rollout:
  phases:
    - id: phase-1
      flags: {PC: false, D365: false}
    - id: phase-2
      flags: {PC: true, D365: false}
"""


async def test_flags_match_the_first_phase_by_default_and_report_each_mismatch() -> None:
    check = "{id: f, kind: flags}"
    assert (await one(check, {"PC": "false", "D365": "0"}, ROLLOUT)).status is Status.PASS
    r = await one(check, {"PC": "true"}, ROLLOUT)
    assert r.status is Status.FAIL and "PC is true (plan: false)" in r.summary
    r = await one("{id: f, kind: flags, params: {phase: phase-2}}", {"PC": "yes", "D365": "false"}, ROLLOUT)
    assert r.status is Status.PASS


async def test_localhost_guard() -> None:
    check = "{id: g, kind: guard.localhost, params: {url: '${DATABASE_URL}'}}"
    r = await one(check, {"DATABASE_URL": "postgresql://u:pw@127.0.0.1:5432/app"})
    assert r.status is Status.FAIL and "local host" in r.summary
    assert (await one(check, {"DATABASE_URL": "postgresql://u:pw@db.internal/app"})).status is Status.PASS


async def test_force_production_guard_runs_the_script_and_expects_a_refusal(tmp_path: Path) -> None:
    guarded = tmp_path / "guarded.sh"
    guarded.write_text('[ "$ENVIRONMENT" = production ] && [ "$FORCE_PRODUCTION" != yes ] && exit 3\nexit 0\n')
    unguarded = tmp_path / "unguarded.sh"
    unguarded.write_text("exit 0\n")
    check = "{id: g, kind: guard.force_production, params: {command: [bash, SCRIPT]}}"
    r = await one(check.replace("SCRIPT", str(guarded)), {"FORCE_PRODUCTION": "yes"}, tmp=tmp_path)
    assert r.status is Status.WARN and "set permanently" in r.summary
    r = await one(check.replace("SCRIPT", str(guarded)), {}, tmp=tmp_path)
    assert r.status is Status.PASS and "exit 3" in r.summary
    r = await one(check.replace("SCRIPT", str(unguarded)), {}, tmp=tmp_path)
    assert r.status is Status.FAIL and "guard is missing" in r.summary


async def test_command_check_exit_code_output_and_timeout_kills_the_process(tmp_path: Path) -> None:
    ok = await one("{id: c, kind: command, params: {command: [bash, -c, 'echo dry run ok'], "
                   "expect_output: 'dry run'}}", {}, tmp=tmp_path)
    assert ok.status is Status.PASS
    bad = await one("{id: c, kind: command, params: {command: [bash, -c, 'echo nope >&2; exit 4']}}", {}, tmp=tmp_path)
    assert bad.status is Status.FAIL and "exited 4" in bad.summary and "nope" in bad.evidence["output_tail"]
    marker = tmp_path / "still-running"
    hung_check = f"{{id: c, kind: command, timeout: 0.5, params: {{command: [bash, -c, 'sleep 1; touch {marker}']}}}}"
    hung = await one(hung_check, {}, tmp=tmp_path)
    assert hung.status is Status.FAIL and "timed out" in hung.summary
    import asyncio

    await asyncio.sleep(1.3)  # past the moment the command would have touched the marker
    assert not marker.exists(), "the timed-out command kept running"
    missing = await one("{id: c, kind: command, params: {command: [no-such-binary-golive]}}", {}, tmp=tmp_path)
    assert missing.status is Status.FAIL and "not found" in missing.summary
