"""`golive serve` with a registry of two services, in-process over HTTP against the Slack stand-in: the desk
is built from the registry (`ctx.registry`, what the loader provides), each service with a rollout plan gets
its own rollout runtime, and one `/golive` answers for both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bot.commands.common import Context
from bot.commands.serve import serve
from bot.services.registry import Channels, Registry, Service
from checks.loader import load_checklist
from tests.rollout.conftest import ENV_FILE, checklist_data
from tests.services.test_chat_routing import service_checklist
from tests.serving import free_port, wait_started
from tests.slack.support import SlackStub, bot_settings, post_signed, slash_command


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    started = await SlackStub().start()
    yield started
    await started.close()


@pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning")
async def test_serve_builds_a_desk_from_the_registry_with_a_rollout_per_service(
        stub: SlackStub, tmp_path: Path, isolated_env: None) -> None:
    (tmp_path / "alpha").mkdir()
    data = checklist_data("http://127.0.0.1:9")
    data["name"] = "alpha"
    alpha = tmp_path / "alpha" / "alpha.yml"
    alpha.write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "alpha" / "target.env").write_bytes(ENV_FILE.encode())
    beta = service_checklist(tmp_path, "beta").source_path
    registry = Registry((Service("alpha", alpha, Channels(slack=("C0ALPHA",)), default=True),
                         Service("beta", Path(beta), Channels(slack=("C0BETA",)))))
    settings = bot_settings(stub, progress_interval=0.0, checklist=alpha, state_dir=tmp_path / "state")
    ctx = Context(settings, load_checklist(alpha))
    setattr(ctx, "registry", registry)  # noqa: B010 - what the registry loader puts on the context
    port, stop = free_port(), asyncio.Event()
    task = asyncio.create_task(serve(ctx, http=True, host="127.0.0.1", port=port, stop=stop))
    base = f"http://127.0.0.1:{port}"

    async def ask(text: str, channel: str, who: str) -> str:
        answer = await post_signed(f"{base}/slack/events", slash_command(
            text, user="U0TECH", channel=channel, response_url=stub.response_url(who)))
        assert answer.status == 200
        said = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                            if c.payload.get("response_url_name") == who], what=f"the answer to {text}")
        return " ".join(c.text + c.blocks_json for c in said)

    try:
        await wait_started(base, task)
        overview = await ask("status", "C0ELSEWHERE", "overview")
        assert "`alpha`: " in overview and "`beta`: " in overview
        no_plan = await ask("promote phase-1", "C0BETA", "beta")  # the channel is beta's: beta has no plan
        assert "beta has no `rollout:` section" in no_plan
        unknown = await ask("promote alpha phase-9", "C0BETA", "alpha")  # named: alpha's own runtime answers
        assert "phase-9" in unknown and "no `rollout:` section" not in unknown
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
