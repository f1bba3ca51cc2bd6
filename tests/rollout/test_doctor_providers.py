"""`golive doctor` names the rollout's flag provider and where its flags live, and probes the real thing
read-only: a local dotenv file, the shared Redis (a key prefix of this module's own), a local HTTP flag
service, the real Unleash server and the LaunchDarkly stand-in. Each failure is one line with the fix, no
secret shows, nothing is written; a configuration golive cannot use is refused at load (exit 2)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from aiohttp import web

from bot.diagnostics.doctor_report import Finding
from bot.rollout.providers import ProviderError, build_provider
from bot.rollout.providers.probe import planned_flags, provider_findings
from bot.serving.server import start_web_app
from checks.masking import mask
from checks.spec import FlagSetting, Rollout, RolloutPhase
from tests.conftest import REDIS_URL
from tests.rollout.conftest import checklist_data
from tests.rollout.launchdarkly_standin import LaunchDarklyStandIn
from tests.rollout.unleash_support import UnleashAdmin, UnleashServer

PLAN = Rollout(phases=[RolloutPhase(id="phase-1", flags={"APP_PC": False, "APP_D365": False}),
                       RolloutPhase(id="phase-2", flags={"APP_PC": True, "APP_D365": False})])
GRADUAL = Rollout(phases=[RolloutPhase(id="phase-1", flags={"checkout": FlagSetting(on=True, rollout=10)})])
LD_TOKEN = "api-7f3e-golive-doctor-ld-token"


def lines(findings: list[Finding]) -> list[str]:
    return [f.line() for f in findings]


async def doctor(config: dict[str, Any], rollout: Rollout = PLAN, workdir: Path = Path("."),
                 env: dict[str, str] | None = None) -> list[str]:
    return lines(await provider_findings(config, workdir=workdir, env=env or {}, rollout=rollout))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_planned_flags_are_every_flag_a_phase_sets_once_in_order() -> None:
    assert planned_flags(PLAN) == ["APP_PC", "APP_D365"] and planned_flags(None) == []


# -- dotenv --------------------------------------------------------------------------------------------
async def test_dotenv_names_the_file_counts_the_planned_flags_and_leaves_it_untouched(tmp_path: Path) -> None:
    env = tmp_path / "target.env"
    env.write_bytes(b"# shop\nAPP_PC=false\nDATABASE_URL=postgresql://u:pw@db/shop\n")
    stale = tmp_path / ".target.env.1234.tmp"  # a dead writer's copy: the provider removes it, the doctor never
    stale.write_text("APP_PC=true\n")
    before = env.stat().st_mtime_ns, env.read_bytes()
    assert await doctor({"kind": "dotenv", "path": "target.env"}, workdir=tmp_path) == [
        f"ok    flag provider (dotenv): dotenv file {env}: readable and writable; 1 of 2 planned flags set "
        "(APP_D365 unset: the first promotion sets them)"]
    assert (env.stat().st_mtime_ns, env.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [stale.name, "target.env"]  # no lock, nothing removed


async def test_dotenv_missing_file_and_bad_path_are_one_line_each_with_the_fix(tmp_path: Path) -> None:
    assert await doctor({"kind": "dotenv", "path": "nowhere.env"}, workdir=tmp_path) == [
        f"FAIL  flag provider (dotenv): dotenv file {tmp_path / 'nowhere.env'}: the file does not exist → create "
        "it (the service loads its settings from it) or fix rollout.provider.path (relative to the checklist)"]
    assert not (tmp_path / "nowhere.env").exists()  # never created by looking
    [line] = await doctor({"kind": "dotenv", "path": ""}, workdir=tmp_path)
    assert line.startswith("FAIL  flag provider (dotenv): rollout.provider (dotenv): path must name the service's "
                           "dotenv file") and "exit 2" in line


async def test_a_percentage_on_dotenv_fails_in_doctor_as_it_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("checkout=false\n")
    [line] = await doctor({"kind": "dotenv"}, rollout=GRADUAL, workdir=tmp_path)
    assert line.startswith("FAIL  flag provider (dotenv): rollout.phases[phase-1].flags.checkout: rollout: 10 "
                           "needs a provider that serves a percentage")


# -- Redis -----------------------------------------------------------------------------------------------
@pytest.fixture
def doctor_prefix() -> Iterator[str]:
    """Keys of this test's own on the shared Redis (the prefix names this module), deleted afterwards."""
    prefix = f"golive:doctor:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def keys_and_values(prefix: str) -> dict[bytes, Any]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return {k: client.dump(k) for k in client.scan_iter(f"{prefix}*")}
    finally:
        client.close()


async def test_redis_hash_and_key_layouts_answer_ping_and_read_without_writing(doctor_prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.hset(f"{doctor_prefix}flags", mapping={"APP_PC": "true", "APP_D365": "false"})
    client.set(f"{doctor_prefix}APP_PC", "false")
    client.close()
    before = keys_and_values(doctor_prefix)
    at = mask(REDIS_URL)  # `***` once another test in this process registered the shared URL as a secret
    assert await doctor({"kind": "redis", "url": REDIS_URL, "hash": f"{doctor_prefix}flags"}) == [
        f"ok    flag provider (redis): Redis hash {doctor_prefix}flags at {at}: answers PING; 2 of 2 planned "
        "flags set"]
    assert await doctor({"kind": "redis", "url": REDIS_URL, "prefix": doctor_prefix}) == [
        f"ok    flag provider (redis): Redis keys {doctor_prefix}* at {at}: answers PING; 1 of 2 planned "
        "flags set (APP_D365 unset: the first promotion sets them)"]
    assert keys_and_values(doctor_prefix) == before


async def test_redis_wrong_key_type_and_unreachable_server_say_what_to_fix(doctor_prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.set(f"{doctor_prefix}flags", "not a hash")
    client.close()
    at = mask(REDIS_URL)
    assert await doctor({"kind": "redis", "url": REDIS_URL, "hash": f"{doctor_prefix}flags"}) == [
        f"FAIL  flag provider (redis): Redis hash {doctor_prefix}flags at {at}: key {doctor_prefix}flags holds "
        "a string, not a hash → point rollout.provider.hash at the hash the service reads its flags from (or use "
        "prefix: for a key per flag)"]
    port = closed_port()
    [line] = await doctor({"kind": "redis", "url": f"redis://:Sup3r-s3cret@127.0.0.1:{port}/0",
                           "hash": f"{doctor_prefix}flags", "timeout": 2})
    assert line.startswith(f"FAIL  flag provider (redis): Redis hash {doctor_prefix}flags at redis://")
    assert line.endswith("→ check rollout.provider.url (host, port, password, database) and that Redis is up")
    assert "Sup3r-s3cret" not in line and line.count("\n") == 0


# -- HTTP flag service -------------------------------------------------------------------------------------
@pytest.fixture
async def flag_service() -> AsyncIterator[tuple[list[str], str]]:
    """A local flag service: GET /flags answers the document; any other method is recorded (and refused)."""
    seen: list[str] = []

    async def flags(request: web.Request) -> web.Response:
        seen.append(request.method)
        if request.headers.get("Authorization") != "Bearer flag-token-91":
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"data": {"flags": {"APP_PC": {"enabled": True}}}})

    app = web.Application()
    app.router.add_route("*", "/flags", flags)
    runner, port = await start_web_app(app)
    yield seen, f"http://127.0.0.1:{port}/flags"
    await runner.cleanup()


async def test_http_read_path_answers_and_a_refusal_names_the_settings(flag_service: tuple[list[str], str]) -> None:
    seen, url = flag_service
    config = {"kind": "http", "url": url, "read_path": "data.flags", "value_path": "enabled",
              "headers": {"Authorization": "Bearer flag-token-91"}}
    assert await doctor(config) == [
        f"ok    flag provider (http): flag service {url}: GET answers; 1 of 2 planned flags set (APP_D365 unset: "
        "the first promotion sets them)"]
    [refused] = await doctor({**config, "headers": {"Authorization": "Bearer flag-token-wrong-77"}})
    assert refused == (f"FAIL  flag provider (http): flag service {url}: GET {url} answered 401 → check "
                       "rollout.provider.url, headers and read_path, and that the flag service is up")
    [no_flags] = await doctor({**config, "read_path": "data.missing"})
    assert "no flags object at data.missing" in no_flags and no_flags.startswith("FAIL")
    assert set(seen) == {"GET"}  # read-only


# -- Unleash (the real server) -------------------------------------------------------------------------
@pytest.mark.xdist_group("unleash")
async def test_unleash_token_project_environment_and_flags_are_probed_read_only(
        unleash: UnleashServer, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = UnleashAdmin(unleash)
    try:
        a, b = admin.flag("doctor-a"), admin.flag("doctor-b")
        admin.switch(a, True)
        before = {a: admin.state(a), b: admin.state(b)}
    finally:
        admin.close()
    plan = Rollout(phases=[RolloutPhase(id="phase-1", flags={a: FlagSetting(on=True, rollout=25), b: False})])
    config = {"kind": "unleash", "url": unleash.url, "project": "default", "environment": "production"}
    monkeypatch.setenv("UNLEASH_API_TOKEN", unleash.token)
    assert await doctor(config, rollout=plan) == [
        f"ok    flag provider (unleash): Unleash {unleash.url} (project default, environment production): token "
        "accepted, project and environment exist; 2 planned flags found"]
    assert (await doctor({**config, "project": "nope"}, rollout=plan))[0].startswith(
        f"FAIL  flag provider (unleash): Unleash {unleash.url} (project nope, environment production): the token is "
        "accepted, but there is no project 'nope' (projects: default) → set rollout.provider.project")
    assert (await doctor({**config, "environment": "prod"}, rollout=plan))[0] == (
        f"FAIL  flag provider (unleash): Unleash {unleash.url} (project default, environment prod): the token is "
        "accepted, but there is no environment 'prod' → set rollout.provider.environment to an environment of "
        "Unleash (Configure → Environments)")
    missing = Rollout(phases=[RolloutPhase(id="p", flags={a: True, "doctor-never-created": True})])
    assert (await doctor(config, rollout=missing))[0].endswith(
        "flag doctor-never-created does not exist → create it in Unleash (project default) before the first "
        "promotion")
    monkeypatch.setenv("UNLEASH_API_TOKEN", "*:*.not-the-doctor-token")
    [refused] = await doctor(config, rollout=plan)
    assert refused.startswith(f"FAIL  flag provider (unleash): Unleash {unleash.url} (project default, environment "
                              "production) refused the API token (401 ")
    assert refused.endswith(") → set a valid UNLEASH_API_TOKEN (or UNLEASH_API_TOKEN_FILE)")
    assert "not-the-doctor-token" not in refused
    admin = UnleashAdmin(unleash)
    try:
        assert {a: admin.state(a), b: admin.state(b)} == before  # looked at, never changed
    finally:
        admin.close()


# -- LaunchDarkly (the stand-in) -------------------------------------------------------------------------
@pytest.fixture
async def ld() -> AsyncIterator[LaunchDarklyStandIn]:
    server = await LaunchDarklyStandIn(token=LD_TOKEN).start()
    server.add_flag("checkout")
    yield server
    await server.stop()


async def test_launchdarkly_token_and_environment_key_are_probed_with_gets_only(
        ld: LaunchDarklyStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"kind": "launchdarkly", "url": ld.url, "project": "shop", "environment": "production"}
    monkeypatch.setenv("LAUNCHDARKLY_API_TOKEN", LD_TOKEN)
    where = f"LaunchDarkly {ld.url} (project shop"
    assert await doctor(config, rollout=GRADUAL) == [
        f"ok    flag provider (launchdarkly): {where}, environment production): token and environment key "
        "accepted; 1 planned flag found"]
    assert await doctor({**config, "environment": "prod"}, rollout=GRADUAL) == [
        f"FAIL  flag provider (launchdarkly): {where}, environment prod): the token is accepted, but project 'shop' "
        "has no environment 'prod' → set rollout.provider.project and environment to the keys LaunchDarkly shows "
        "(Account settings → Projects)"]
    missing = Rollout(phases=[RolloutPhase(id="p", flags={"search": True})])
    assert (await doctor(config, rollout=missing))[0].endswith(
        "flag search does not exist → create it in project shop before the first promotion")
    monkeypatch.setenv("LAUNCHDARKLY_API_TOKEN", "api-wrong-doctor-token")
    [refused] = await doctor(config, rollout=GRADUAL)
    assert refused == (f"FAIL  flag provider (launchdarkly): {where}, environment production) refused the API token "
                       "(401 Invalid access token) → set a valid LAUNCHDARKLY_API_TOKEN (or "
                       "LAUNCHDARKLY_API_TOKEN_FILE)")
    assert "wrong-doctor-token" not in refused
    assert {r["method"] for r in ld.requests} == {"GET"}
    assert ld.env("checkout")["on"] is False


# -- validation at load ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("config", "says"), [
    ({"kind": "dotenv", "path": 3}, "rollout.provider (dotenv): path must name the service's dotenv file"),
    ({"kind": "dotenv", "file": ".env"}, "rollout.provider (dotenv): unknown key(s) file"),
    ({"kind": "redis", "url": "127.0.0.1:6379", "hash": "f"}, "rollout.provider (redis): url '127.0.0.1:6379' is "
                                                             "not a redis://, rediss:// or unix:// URL"),
    ({"kind": "redis", "url": REDIS_URL}, "set exactly one of `hash`"),
    ({"kind": "http", "url": "flags.internal/flags"}, "rollout.provider (http): url 'flags.internal/flags' is not "
                                                      "an http:// or https:// URL"),
    ({"kind": "http", "url": "https://f/x", "write_method": "GET"}, "rollout.provider (http): write_method"),
    ({"kind": "unleash", "url": "unleash.example.com", "environment": "production"},
     "rollout.provider (unleash): url 'unleash.example.com' is not an http:// or https:// URL"),
    ({"kind": "unleash", "url": "https://unleash.example.com"}, "rollout.provider (unleash): environment Field "
                                                                "required"),
    ({"kind": "launchdarkly", "url": "app.launchdarkly.com", "project": "shop", "environment": "production"},
     "rollout.provider (launchdarkly): url 'app.launchdarkly.com' is not an http:// or https:// URL"),
])
def test_each_provider_refuses_a_configuration_it_cannot_use_at_load(config: dict[str, Any], says: str) -> None:
    with pytest.raises(ProviderError) as refused:
        build_provider(config, workdir=Path("."), env={})
    assert says in str(refused.value) and "Value error" not in str(refused.value)


def test_promote_exits_2_and_doctor_exits_1_with_the_same_line_for_a_bad_provider(
        isolated_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main
    from tests.operators import write_operators

    monkeypatch.setenv("GOLIVE_OPERATORS_FILE", str(write_operators(tmp_path, "U0TECH")))
    monkeypatch.setenv("UNLEASH_API_TOKEN", "*:*.doctor-cli-token-5150")
    data = checklist_data(f"http://127.0.0.1:{closed_port()}")
    data["rollout"]["provider"] = {"kind": "unleash", "url": "unleash.internal:4242", "environment": "production"}
    path = tmp_path / "shop.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["promote", "phase-1", "--checklist", str(path)]) == 2
    said = "rollout.provider (unleash): url 'unleash.internal:4242' is not an http:// or https:// URL"
    assert said in capsys.readouterr().err
    assert main(["doctor", "--checklist", str(path)]) == 1
    out = capsys.readouterr().out
    [line] = [x for x in out.splitlines() if x.startswith("FAIL  flag provider")]
    assert line.startswith(f"FAIL  flag provider (unleash): {said}") and "doctor-cli-token-5150" not in out

    data["rollout"]["provider"] = {"kind": "dotenv", "path": "target.env"}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "target.env").write_text("APP_PC_ENABLED=false\n")
    main(["doctor", "--checklist", str(path)])
    assert (f"ok    flag provider (dotenv): dotenv file {tmp_path / 'target.env'}: readable and writable; 1 of 3 "
            "planned flags set") in capsys.readouterr().out
