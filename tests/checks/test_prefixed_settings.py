"""`settings: {prefix: HUNTER_}`: the bundled Hunter checklist adapts to a service whose variables are all
prefixed in a handful of lines, and every check judges it exactly as it judges the unprefixed service."""

from __future__ import annotations

import asyncio
import difflib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from aiohttp import web

from bot.serving.server import start_web_app
from checks.loader import bundled_checklist, parse_checklist
from checks.result import CheckResult, Status
from checks.runner import Runner
from checks.spec import SettingsSource
from checks.target_env import real_name, with_names
from tests.checks.conftest import pg_url

ALEMBIC_PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "alembic_project"
RATE_LIMIT = 20  # requests to /api/v1/leads before the service answers 429


def hunter_like_app(*, prefixed: bool) -> web.Application:
    """A Hunter-shaped service. The prefixed one answers readiness its own way and scans at /api/v1/scans."""
    served = {"leads": 0}
    cached: set[str] = set()

    async def ready(_: web.Request) -> web.Response:
        if prefixed:
            return web.json_response({"status": "ready", "checks": {"database": True, "redis": True}})
        return web.json_response({"status": "ok", "db": {"status": "ok"}, "redis": {"status": "ok"},
                                  "environment": "production"})

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(_: web.Request) -> web.Response:
        return web.json_response({"requests_total": served["leads"], "error_rate": 0.0})

    async def leads(request: web.Request) -> web.Response:
        served["leads"] += 1
        if served["leads"] > RATE_LIMIT:
            return web.json_response({"detail": "rate limited"}, status=429)
        key = request.query_string
        headers = {"X-Cache": "HIT" if key in cached else "MISS"}
        if key not in cached:
            cached.add(key)
            await asyncio.sleep(0.15)  # a cache miss really is slower
        return web.json_response([{"domain": "example.com", "score": 90}], headers=headers)

    async def scan(_: web.Request) -> web.Response:
        return web.json_response({"status": "queued"}, status=202)

    async def summary(request: web.Request) -> web.Response:
        return web.json_response({"domain": request.match_info["domain"], "m365": True})

    app = web.Application()
    for path in ("/healthz/live", "/healthz/startup"):
        app.router.add_get(path, ok)
    app.router.add_get("/healthz/ready", ready)
    app.router.add_get("/healthz/metrics", metrics)
    app.router.add_get("/api/v1/leads", leads)
    app.router.add_post("/api/v1/scans" if prefixed else "/api/v1/scan", scan)
    app.router.add_get("/api/v1/leads/{domain}/sales-summary", summary)
    return app


@pytest.fixture
def hunter_database(migrated_database: Callable[[str], str]) -> str:
    """The service's database: migrated to head with the fixture project (a clone of the session's migrated
    template), with rows to back up."""
    url = pg_url(migrated_database("head"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO companies (domain, tenant_size) SELECT 'c' || g, 'small' "
                     "FROM generate_series(1, 5) g")
        conn.execute("INSERT INTO domain_signals (domain) SELECT 'c' || g FROM generate_series(1, 3) g")
    return url


def service_settings(tmp_path: Path, base_url: str, database_url: str) -> dict[str, str]:
    """The settings of the unprefixed service, as the bundled checklist expects them."""
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / "deploy.sh").write_text('echo "dry-run: nothing deployed"\n')
    (scripts / "reset.sh").write_text(
        '[ "${ENVIRONMENT:-$HUNTER_ENVIRONMENT}" = production ] && echo "refusing: production" >&2 && exit 1\n'
        "docker compose exec db dropdb app\n")
    return {
        "ENVIRONMENT": "production", "DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:6379/0",
        "LOG_LEVEL": "INFO", "API_HOST": "0.0.0.0", "API_PORT": "8000", "API_BASE_URL": base_url,
        "HUNTER_PARTNER_CENTER_ENABLED": "false", "HUNTER_D365_ENABLED": "false",
        "HUNTER_ENRICHMENT_ENABLED": "false", "HUNTER_ALEMBIC": f"{sys.executable} -m alembic",
        "HUNTER_ALEMBIC_DIR": str(ALEMBIC_PROJECT), "HUNTER_BACKUP_DIR": str(tmp_path / "backups"),
        "HUNTER_DEPLOY_SCRIPT": str(scripts / "deploy.sh"), "HUNTER_RESET_SCRIPT": str(scripts / "reset.sh"),
    }


def prefixed(settings: dict[str, str]) -> dict[str, str]:
    return {(k if k.startswith("HUNTER_") else f"HUNTER_{k}"): v for k, v in settings.items()}


def adapt(text: str) -> str:
    """The whole adaptation a user makes to the bundled checklist for the prefixed service."""
    edits = [
        ("settings:\n  source: process\n", "settings:\n  source: process\n  prefix: HUNTER_\n"),
        ("            status: ok\n            db.status: ok\n            redis.status: ok\n"
         "            environment: production\n",
         "            status: ready\n            checks.database: true\n            checks.redis: true\n"),
        ("          url: /api/v1/scan\n", "          url: /api/v1/scans\n"),
        ('{url: "/api/v1/scan?domain=test.com"', '{url: "/api/v1/scans?domain=test.com"'),
    ]
    for old, new in edits:
        assert text.count(old) == 1, f"the bundled checklist changed; cannot find {old!r}"
        text = text.replace(old, new)
    return text


def changed_lines(before: str, after: str) -> int:
    """Lines a person edits: a replaced block counts its longer side, inserts and deletes their length."""
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")


async def run_hunter(text: str, folder: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                     prefixed_service: bool) -> dict[str, CheckResult]:
    for name in [*prefixed(env), *env]:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    folder.mkdir()
    path = folder / "hunter.yml"
    path.write_text(text)
    checklist = parse_checklist(text, str(path))
    runner, port = await start_web_app(hunter_like_app(prefixed=prefixed_service))
    try:
        assert env.get("API_BASE_URL", env.get("HUNTER_API_BASE_URL", "")).endswith(":PORT")
        for name in ("API_BASE_URL", "HUNTER_API_BASE_URL"):
            if name in env:
                monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
        report = await Runner(checklist).run(checklist.all_checks())
    finally:
        await runner.cleanup()
    return {r.check_id: r for r in report.results}


async def test_the_hunter_checklist_adapts_to_prefixed_variables_in_a_few_lines(
        tmp_path: Path, hunter_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = bundled_checklist("hunter").read_text()
    adapted = adapt(bundled)
    edits = changed_lines(bundled, adapted)
    assert edits <= 10, f"adapting took {edits} changed lines"

    plain_env = service_settings(tmp_path, "http://127.0.0.1:PORT", hunter_database)
    plain = await run_hunter(bundled, tmp_path / "plain", plain_env, monkeypatch, prefixed_service=False)
    prefixed_env = prefixed(plain_env)
    assert "DATABASE_URL" not in prefixed_env and "HUNTER_DATABASE_URL" in prefixed_env
    ours = await run_hunter(adapted, tmp_path / "prefixed", prefixed_env, monkeypatch, prefixed_service=True)

    statuses = {cid: (plain[cid].status.value, ours[cid].status.value) for cid in plain}
    differ = {cid: (plain[cid].summary, ours[cid].summary) for cid, (a, b) in statuses.items() if a != b}
    assert not differ, json.dumps(differ, indent=1)
    passed = [cid for cid, (a, _) in statuses.items() if a == "pass"]
    assert len(passed) >= 25, statuses  # the comparison means something only if most checks really pass
    for cid in ("health.ready", "smoke.scan", "api.v1", "db.connect", "redis.ping", "backup.create"):
        assert statuses[cid] == ("pass", "pass"), (cid, plain[cid].summary, ours[cid].summary)
    # Evidence names the service's real variable.
    assert ours["env.environment"].evidence["var"] == "HUNTER_ENVIRONMENT"
    assert ours["env.log_level"].summary.startswith("HUNTER_LOG_LEVEL")
    assert plain["env.environment"].evidence["var"] == "ENVIRONMENT"


async def test_without_the_prefix_the_prefixed_service_is_not_configured(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same edits minus `prefix:` leave the checklist's names unresolved: the prefix is what does it."""
    env = prefixed(service_settings(tmp_path, "http://127.0.0.1:PORT", "postgresql://x@127.0.0.1:1/x"))
    text = adapt(bundled_checklist("hunter").read_text()).replace("  prefix: HUNTER_\n", "")
    checklist = parse_checklist(text, str(tmp_path / "hunter.yml"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    report = await Runner(checklist).run([c for c in checklist.all_checks() if c.id == "env.environment"])
    assert report.results[0].status is Status.FAIL and "ENVIRONMENT is not set" in report.results[0].summary


def test_aliases_and_precedence() -> None:
    settings = SettingsSource(prefix="HUNTER_", aliases={"REDIS_URL": "CACHE_DSN"})
    env = with_names({"HUNTER_DATABASE_URL": "pg://real", "DATABASE_URL": "pg://other", "CACHE_DSN": "redis://c"},
                     settings)
    assert env["DATABASE_URL"] == "pg://real" and env["REDIS_URL"] == "redis://c"
    assert real_name(settings, env, "DATABASE_URL") == "HUNTER_DATABASE_URL"
    assert real_name(settings, env, "REDIS_URL") == "CACHE_DSN"
    assert real_name(settings, env, "LOG_LEVEL") == "LOG_LEVEL"
