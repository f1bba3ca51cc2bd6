"""Flag providers: the dotenv rewrite keeps every other byte, Redis and the HTTP flag service round-trip,
and the `flags` check reads whichever provider is configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.rollout.providers import ProviderError, apply_flags, build_provider, flag_reader
from bot.rollout.providers.dotenv import DotenvProvider, rewrite
from bot.rollout.providers.http import HttpProvider
from bot.rollout.providers.redis import RedisProvider
from bot.serving.server import start_web_app
from checks.loader import parse_checklist
from checks.result import Status
from checks.runner import Runner
from tests.conftest import REDIS_URL
from tests.rollout.conftest import ENV_FILE


def changed_lines(before: bytes, after: bytes) -> list[tuple[bytes, bytes]]:
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) <= len(b)
    return [(x, y) for x, y in zip(a, b, strict=False) if x != y]


async def test_dotenv_rewrites_only_the_flag_lines_keeping_quotes_comments_and_order(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(ENV_FILE.encode())
    path.chmod(0o640)
    provider = DotenvProvider(path)
    assert await provider.read(["APP_PC_ENABLED", "APP_D365_ENABLED", "NOPE"]) == {
        "APP_PC_ENABLED": "false", "APP_D365_ENABLED": "false", "NOPE": None}

    actual, problems = await apply_flags(provider, {"APP_PC_ENABLED": True, "APP_D365_ENABLED": False})
    after = path.read_bytes()
    assert problems == [] and actual == {"APP_PC_ENABLED": "true", "APP_D365_ENABLED": "false"}
    assert changed_lines(ENV_FILE.encode(), after) == [
        (b'APP_PC_ENABLED="false"     # Partner Center\n', b'APP_PC_ENABLED="true"     # Partner Center\n')]
    assert len(after) == len(ENV_FILE.encode()) - 1  # "false" → "true", nothing else moved
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["..env.lock", ".env"]  # no temp file left behind

    await provider.write({"APP_PC_ENABLED": False, "APP_NEW_ENABLED": True})
    final = path.read_bytes()
    assert final.startswith(ENV_FILE.encode() + b"\n")  # original bytes intact, a newline added before…
    assert final.endswith(b"\nAPP_NEW_ENABLED=true\n")  # …the missing flag, appended at the end


def test_rewrite_keeps_crlf_export_single_quotes_and_every_duplicate() -> None:
    text = "A=1\r\nexport FLAG_X='off'\r\n# FLAG_X=commented\r\nFLAG_X = off # again\r\n"
    out = rewrite(text, {"FLAG_X": "true", "FLAG_Y": "a b"})
    assert out == ("A=1\r\nexport FLAG_X='true'\r\n# FLAG_X=commented\r\nFLAG_X = true # again\r\n"
                   'FLAG_Y="a b"\r\n')


async def test_dotenv_write_is_atomic_replace_and_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.env"
    real.write_text("KEEP=1\nF=false\n")
    link = tmp_path / ".env"
    link.symlink_to(real)
    inode = real.stat().st_ino
    await DotenvProvider(link).write({"F": True})
    assert link.is_symlink() and real.read_text() == "KEEP=1\nF=true\n"
    assert real.stat().st_ino != inode  # replaced by os.replace, never rewritten in place


async def test_redis_provider_hash_and_key_layouts(redis_prefix: str) -> None:
    for layout in ({"hash": f"{redis_prefix}flags"}, {"prefix": f"{redis_prefix}flag:"}):
        provider = build_provider({"kind": "redis", "url": "${R}", **layout}, workdir=Path("."), env={"R": REDIS_URL})
        assert isinstance(provider, RedisProvider)
        try:
            assert await provider.read(["A", "B"]) == {"A": None, "B": None}
            actual, problems = await apply_flags(provider, {"A": True, "B": "beta"})
            assert problems == [] and actual == {"A": "true", "B": "beta"}
            reader = flag_reader(provider)
            assert await reader(["A"]) == {"A": "true"}
        finally:
            await provider.close()
    with pytest.raises(ProviderError, match="exactly one"):
        build_provider({"kind": "redis", "url": REDIS_URL}, workdir=Path("."), env={})


class FlagService:
    """A flag service over real HTTP: one document (GET/PUT /flags) and one URL per flag."""

    def __init__(self) -> None:
        self.flags: dict[str, Any] = {"A": {"enabled": False}, "OTHER": {"enabled": True}}
        self.writes: list[Any] = []

    async def get_all(self, request: web.Request) -> web.Response:
        return web.json_response({"data": {"flags": self.flags}})

    async def put_all(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.writes.append(body)
        self.flags.update(body["flags"])
        return web.json_response({"ok": True})

    async def get_one(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.flags:
            return web.json_response({"enabled": None})
        return web.json_response(self.flags[name])

    async def put_one(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.writes.append(body)
        self.flags[request.match_info["name"]] = body
        return web.json_response({"ok": True})


@pytest.fixture
async def flag_service() -> AsyncIterator[tuple[FlagService, str]]:
    service = FlagService()
    app = web.Application()
    app.router.add_get("/flags", service.get_all)
    app.router.add_put("/flags", service.put_all)
    app.router.add_get("/flags/{name}", service.get_one)
    app.router.add_post("/flags/{name}", service.put_one)
    runner, port = await start_web_app(app)
    yield service, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_http_provider_document_mode(flag_service: tuple[FlagService, str]) -> None:
    service, url = flag_service
    provider = build_provider({"kind": "http", "url": f"{url}/flags", "read_path": "data.flags",
                               "value_path": "enabled", "write_path": "flags"}, workdir=Path("."), env={})
    assert isinstance(provider, HttpProvider)
    try:
        assert await provider.read(["A", "MISSING"]) == {"A": "false", "MISSING": None}
        actual, problems = await apply_flags(provider, {"A": True})
        assert problems == [] and actual == {"A": "true"}
        assert service.writes == [{"flags": {"A": {"enabled": True}}}]  # JSON booleans, only the changed flag
        assert service.flags["OTHER"] == {"enabled": True}
    finally:
        await provider.close()


async def test_http_provider_per_flag_urls_and_errors(flag_service: tuple[FlagService, str]) -> None:
    service, url = flag_service
    provider = build_provider({"kind": "http", "url": url + "/flags/{name}", "value_path": "enabled",
                               "write_method": "POST"}, workdir=Path("."), env={})
    try:
        await provider.write({"B": True})
        assert service.writes == [{"enabled": True}]
        assert await provider.read(["B", "A"]) == {"B": "true", "A": "false"}
    finally:
        await provider.close()
    broken = HttpProvider.from_config({"url": f"{url}/nowhere"})
    with pytest.raises(ProviderError, match="answered 404"):
        await broken.read(["A"])
    await broken.close()


async def test_flags_check_compares_the_plan_with_the_provider(tmp_path: Path) -> None:
    (tmp_path / "flags.env").write_text("PC=true\n")
    checklist = parse_checklist(
        "name: t\nphases:\n  - id: p\n    checks:\n      - {id: f, kind: flags}\n"
        "rollout:\n  phases:\n    - {id: phase-1, flags: {PC: false}}\n    - {id: phase-2, flags: {PC: true}}\n",
        str(tmp_path / "t.yml"))
    reader = flag_reader(DotenvProvider(tmp_path / "flags.env"))
    on_two = await Runner(checklist, env={}, rollout_phase="phase-2", flag_reader=reader).run(checklist.all_checks())
    assert on_two.results[0].status is Status.PASS and on_two.results[0].evidence["source"] == "flag provider"
    on_one = await Runner(checklist, env={"PC": "false"}, rollout_phase="phase-1", flag_reader=reader).run(
        checklist.all_checks())
    assert on_one.results[0].status is Status.FAIL and "PC is true (plan: false)" in on_one.results[0].summary


def test_unknown_provider_kind_and_missing_variable_are_clear() -> None:
    with pytest.raises(ProviderError, match="not one of dotenv, redis, http"):
        build_provider({"kind": "consul"}, workdir=Path("."), env={})
    with pytest.raises(ProviderError, match="FLAGS_FILE"):
        build_provider({"kind": "dotenv", "path": "${FLAGS_FILE}"}, workdir=Path("."), env={})
