"""`/golive promote` and `/golive rollback` from chat: signed slash commands to the running Slack bot,
the rollout service behind them, the announcement in the channel through the Slack Web API stub."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.chatops.commands import PromoteCommand, RollbackCommand
from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer
from bot.rollout import RolloutRuntime
from bot.rollout.chat import install
from bot.runs.service import execute_run
from bot.slack.notifier import SlackNotifier
from bot.slack.poster import SlackPoster
from bot.store import Store
from checks.spec import Checklist
from tests.rollout.test_promote import sign
from tests.slack.support import CHANNEL, SlackStub, running_bot


def test_the_verbs_parse_into_commands() -> None:
    from bot.chatops.commands import HelpCommand, parse_command

    assert parse_command("promote phase-2") == PromoteCommand(phase="phase-2")
    assert parse_command("rollback error rate too high") == RollbackCommand(reason="error rate too high")
    assert isinstance(parse_command("promote"), HelpCommand)


async def test_promote_and_rollback_over_slack(write_checklist: Callable[..., Checklist], store: Store,
                                               locks: RedisLocks, target: DemoServer, tmp_path: Path) -> None:
    checklist = write_checklist(target.base_url)
    env_file = tmp_path / "target.env"
    original = env_file.read_bytes()
    stub = await SlackStub().start()
    try:
        async with running_bot(stub, checklist, store) as bot:
            notifier = SlackNotifier(SlackPoster(bot.bot.deps.client, store), CHANNEL)
            runtime = await RolloutRuntime.create(checklist, store, notifier, locks=locks, prefix=locks.prefix,
                                                  env={})
            install(bot.bot.deps.chatops, runtime.service)

            async def reply(text: str, user: str, name: str) -> str:
                await bot.command(text, user=user, response=name)
                calls = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                                     if c.payload["response_url_name"] == name], what=name)
                return calls[0].text

            refused = await reply("promote phase-1", "U0TECH", "refused")
            assert "refused" in refused and "sign-off missing" in refused
            assert env_file.read_bytes() == original

            await reply("promote phase-1", "U0STRANGER", "outsider")
            assert store.audit_log(action="access.denied")

            await execute_run(store, checklist, "health.ready")
            sign(store, checklist, "tech_lead", "devops_lead")
            promoted = await reply("promote phase-1", "U0TECH", "promoted")
            assert "refused" not in promoted, promoted
            assert await runtime.service.current_phase() == "phase-1"
            await stub.wait_for(lambda: any("phase-1" in str(c.payload) for c in stub.of("chat.postMessage")))

            rolled = await reply("rollback smoke failed", "U0TECH", "rolled")
            assert "refused" not in rolled, rolled
            assert await runtime.service.current_phase() is None
            after = env_file.read_bytes()  # before phase-1 every planned flag is off; nothing else moved
            assert after.startswith(original) and after[len(original):] == b"\nAPP_ENRICH_ENABLED=false\n"
            stub.assert_clean()
    finally:
        await stub.close()
