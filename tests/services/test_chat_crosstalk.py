"""No cross-talk: one bot process serves two services' go-lives at once, driven through the Slack and Teams
stand-ins (alpha from Slack, in a channel mapped to no service, so every command names it; beta from its Teams
release channel, with no argument). Each has its own checklist, flag file and rollout runtime, over the desk's
scoped store and locks (bot.services.state.scoped):

- a sign-off for alpha never counts for beta;
- a P0 on beta (its pause) never pauses alpha;
- a rollback of alpha never touches beta's flags.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.announcements.events import RecordingNotifier
from bot.chatops.service import ChatOps
from bot.coordination.locks import RedisLocks
from bot.demo import DemoServer
from bot.rollout import RolloutRuntime
from bot.rollout.chat import install
from bot.rollout.records import RolloutRecords
from bot.services.desk import SERVICE_MARK, Desk, serving, tag_value
from bot.services.registry import Channels, Registry, Service
from bot.serving.server import Health, build_web_app, start_web_app
from bot.settings import Settings
from bot.signoff.service import SignoffService
from bot.slack.http import slack_routes
from bot.slack.ids import (
    ACTION_ROLLOUT_ROLLBACK,
    ACTION_SIGNOFF_APPROVE,
    ACTION_SIGNOFF_REJECT,
    REJECT_REASON_BLOCK,
    REJECT_REASON_INPUT,
    VIEW_SIGNOFF_REJECT,
)
from bot.slack.runtime import build_slack_bot
from bot.store import Store
from bot.teams.app import build_teams, teams_routes
from bot.teams.ids import VERB_SIGNOFF
from checks.loader import load_checklist
from checks.spec import Checklist
from tests.rollout.conftest import ENV_FILE, checklist_data
from tests.slack.support import SlackStub, block_action, bot_settings, post_signed, slash_command, view_submission
from tests.teams import support as teams

ELSEWHERE = "C0ELSEWHERE"  # a Slack channel mapped to no service
MEMBERS = {"tech_lead": ["U0TECH", "aad-tech"], "devops_lead": ["U0DEVOPS", "aad-devops"]}


def write_service(tmp_path: Path, name: str, base_url: str) -> Checklist:
    """A checklist of its own, in a folder of its own with its own flag file (target.env)."""
    folder = tmp_path / name
    folder.mkdir()
    data = checklist_data(base_url)
    data["name"] = name
    for role in data["signoffs"]["pre"]["roles"]:
        role["members"] = MEMBERS[role["id"]]
    (folder / f"{name}.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    (folder / "target.env").write_bytes(ENV_FILE.encode())
    return load_checklist(folder / f"{name}.yml")


def flag(path: Path, name: str) -> str:
    line = next(line for line in path.read_text().splitlines() if line.strip().startswith(name))
    return line.split("=", 1)[1].split("#")[0].strip().strip('"')


async def until(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    """A fail-safe for the bot's background work (never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


class OneBot:
    """Both transports of one bot over one desk, on one web server, against the Slack and Teams stand-ins."""

    def __init__(self, desk: Desk, url: str, stub: SlackStub, connector: Any, session: aiohttp.ClientSession,
                 slack: Any, teams_bot: Any) -> None:
        self.desk, self.url, self.stub, self.connector = desk, url, stub, connector
        self.session, self.slack, self.teams_bot = session, slack, teams_bot

    async def slack_command(self, text: str, user: str = "U0TECH") -> None:
        answer = await post_signed(f"{self.url}/slack/events", slash_command(
            text, user=user, channel=ELSEWHERE, response_url=self.stub.response_url(user)))
        assert answer.status == 200
        await self.slack_settled()

    async def slack_click(self, action_id: str, value: str, user: str) -> None:
        answer = await post_signed(f"{self.url}/slack/events", block_action(
            action_id, value, user=user, response_url=self.stub.response_url(user), channel=ELSEWHERE))
        assert answer.status == 200
        await self.slack_settled()

    async def slack_settled(self) -> None:
        await asyncio.sleep(0.05)  # Bolt hands the lazy listener to a task after the ack
        tasks = self.slack.deps.tasks
        await until(lambda: not [t for t in tasks.tasks if not t.done()], "the Slack listener finished")

    async def teams_say(self, text: str, user: str = "aad-tech") -> None:
        activity = teams.message(text, self.connector.url, teams.user(user))
        async with self.session.post(f"{self.url}/api/messages", json=activity) as response:
            assert response.status in (200, 202), await response.text()
        await self.teams_bot.drain()

    async def teams_press(self, action: dict[str, Any], user: str) -> None:
        verb, data = teams.pressed(action)
        activity = teams.execute(verb, data, self.connector.url, teams.user(user))
        async with self.session.post(f"{self.url}/api/messages", json=activity) as response:
            assert response.status == 200, await response.text()
        await self.teams_bot.drain()

    def slack_buttons(self, action_id: str) -> list[str]:
        values = []
        for call in self.stub.of("chat.postMessage") + self.stub.of("chat.update"):
            blocks = json.dumps(call.payload.get("blocks") or [])
            for block in json.loads(blocks):
                for element in block.get("elements") or []:
                    if element.get("action_id") == action_id:
                        values.append(element["value"])
        return values

    def teams_actions(self, verb: str) -> list[dict[str, Any]]:
        return [a for call in self.connector.calls for card in teams.cards_of(call.body)
                for a in teams.find_actions(card) if a.get("verb") == verb]


@pytest.fixture
async def one_bot(tmp_path: Path, store: Store, redis_locks: RedisLocks,
                  target: DemoServer) -> AsyncIterator[OneBot]:
    checklists = {name: write_service(tmp_path, name, target.base_url) for name in ("alpha", "beta")}
    registry = Registry((
        Service("alpha", tmp_path / "alpha" / "alpha.yml", Channels(slack=("C0ALPHA",)), default=True),
        Service("beta", tmp_path / "beta" / "beta.yml", Channels(teams=(teams.CHANNEL,))),
    ))
    desk = Desk.build(registry, store, redis_locks, checklist=lambda s: checklists[s.name],
                      make=lambda st, c, lk: ChatOps(st, c, locks=lk))
    for service, ops in desk.each():
        runtime = await RolloutRuntime.create(ops.checklist, ops.store, RecordingNotifier(), locks=ops.locks,
                                              prefix=redis_locks.prefix, env={})
        install(ops, runtime.service)
        desk.rollouts[service.name] = runtime
    hook = desk.rollouts["alpha"].service.action_hook  # the default service's, as `golive serve` hands it over
    stub = await SlackStub().start()
    connector = await teams.Connector().start()
    slack = build_slack_bot(bot_settings(stub, progress_interval=0.0), desk.default, on_rollout_action=hook,
                            desk=desk)
    teams_settings = Settings(_env_file=None, teams_anonymous=True, progress_interval=0.0).model_copy(
        update={"teams_service_url": connector.url})
    transport = build_teams(teams_settings, desk.default, rollout_hook=hook, desk=desk)
    runner, port = await start_web_app(build_web_app(Health(store), slack_routes(slack.app), teams_routes(transport)),
                                       "127.0.0.1", 0)
    session = aiohttp.ClientSession()
    try:
        await slack.start()
        yield OneBot(desk, f"http://127.0.0.1:{port}", stub, connector, session, slack, transport.bot)
    finally:
        await session.close()
        await slack.stop()
        await transport.bot.stop()
        await runner.cleanup()
        for runtime in desk.rollouts.values():
            await runtime.close()
        await connector.close()
        await stub.close()


@pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning")
async def test_two_services_go_live_at_once_without_cross_talk(one_bot: OneBot, tmp_path: Path) -> None:
    bot, desk = one_bot, one_bot.desk
    alpha, beta = desk.chatops["alpha"], desk.chatops["beta"]
    alpha_flags, beta_flags = tmp_path / "alpha" / "target.env", tmp_path / "beta" / "target.env"

    def phase(ops: ChatOps) -> str | None:
        return RolloutRecords(ops.store, ops.checklist.name).phase()

    def missing(ops: ChatOps) -> list[str]:
        return list(SignoffService(ops.store, ops.checklist).state().missing)

    # both services' checks run at once: alpha's named from Slack, beta's in its mapped Teams channel
    await asyncio.gather(bot.slack_command("run alpha health.ready"), bot.teams_say("run health.ready"))
    await until(lambda: [r.status for r in alpha.store.runs(checklist="alpha")] == ["passed"]
                or all(r.status != "running" for r in alpha.store.runs(checklist="alpha")), "alpha's run ended")
    [alpha_run] = alpha.store.runs(checklist="alpha")
    [beta_run] = beta.store.runs(checklist="beta")
    assert (alpha_run.selector, beta_run.selector) == ("health.ready", "health.ready")

    # a sign-off for alpha never counts for beta: alpha's card (Slack) is approved by both roles
    await bot.slack_command("signoff alpha pre")
    values = bot.slack_buttons(ACTION_SIGNOFF_APPROVE)
    assert values and all(v.endswith(f"{SERVICE_MARK}alpha") for v in values)  # its buttons name alpha
    for value in values:
        role = value.split(SERVICE_MARK)[0].split(":")[1]
        await bot.slack_click(ACTION_SIGNOFF_APPROVE, value, user=MEMBERS[role][0])
    await until(lambda: missing(alpha) == [], "alpha's sign-off complete")
    assert sorted(missing(beta)) == ["pre:devops_lead", "pre:tech_lead"]

    await bot.teams_say("promote phase-1")  # beta's gate: its own sign-offs are missing
    assert phase(beta) is None
    await bot.slack_command("promote alpha phase-1")
    assert phase(alpha) == "phase-1"

    # beta signs off on its own card (Teams), whose buttons name beta, then promotes from its channel
    await bot.teams_say("signoff pre")
    approvals = [a for a in bot.teams_actions(VERB_SIGNOFF) if a["data"].get("decision") == "approve"]
    assert approvals and all(a["data"].get("service") == "beta" for a in approvals)
    for action in approvals:
        await bot.teams_press(action, user=MEMBERS[action["data"]["role"]][1])
    assert missing(beta) == []
    await bot.teams_say("promote phase-1")
    assert phase(beta) == "phase-1" and phase(alpha) == "phase-1"

    # a P0 on beta pauses beta (as the watch does) and never alpha
    await desk.rollouts["beta"].service.pause(phase="phase-1", reason="P0: 5xx error rate 5.0% > 1.0%",
                                              incident_id="inc-beta")
    assert RolloutRecords(beta.store, "beta").paused() is not None
    assert RolloutRecords(alpha.store, "alpha").paused() is None
    await bot.teams_say("promote phase-2")
    assert phase(beta) == "phase-1"  # held by its pause
    await bot.slack_command("promote alpha phase-2")
    assert phase(alpha) == "phase-2" and flag(alpha_flags, "APP_PC_ENABLED") == "true"

    # a rollback of alpha never touches beta's flags
    beta_before = beta_flags.read_bytes()
    await bot.slack_command("rollback alpha the error budget is burning")
    assert phase(alpha) == "phase-1" and flag(alpha_flags, "APP_PC_ENABLED") == "false"
    assert beta_flags.read_bytes() == beta_before and phase(beta) == "phase-1"

    # beta's alert button, pressed where no service is mapped, rolls back beta alone
    with serving("beta"):  # what beta's notifier draws its alerts under (bot.commands.serve.ServiceNotifier)
        roll_back = tag_value("phase-1")
    alpha_before = alpha_flags.read_bytes()
    await bot.slack_click(ACTION_ROLLOUT_ROLLBACK, roll_back, user="U0TECH")
    assert phase(beta) != "phase-1"
    assert phase(alpha) == "phase-1" and alpha_flags.read_bytes() == alpha_before

    # and the overview, asked where no service is chosen, tells them apart
    await bot.slack_command("status")
    overview = " ".join(c.text for c in bot.stub.of("response_url") if "services" in c.text)
    assert "`alpha`: " in overview and "`beta`: " in overview and "rollout phase-1" in overview


@pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning")
async def test_a_reject_given_in_slacks_form_reaches_the_service_of_its_card(one_bot: OneBot) -> None:
    """Reject opens a form, and the reason comes back in a separate submission: the form carries the service."""
    bot, desk = one_bot, one_bot.desk
    await bot.slack_command("signoff alpha pre")
    await bot.slack_command("signoff beta pre")  # the same stage in both services; the latest card is beta's
    [value] = [v for v in bot.slack_buttons(ACTION_SIGNOFF_REJECT) if v.endswith(f"{SERVICE_MARK}beta")
               and ":tech_lead" in v]
    await bot.slack_click(ACTION_SIGNOFF_REJECT, value, user="U0TECH")
    opened = await bot.stub.wait_for(lambda: bot.stub.of("views.open"), what="the reason form")
    view = opened[0].payload["view"]
    assert json.loads(view["private_metadata"])["service"] == "beta"
    reason = {REJECT_REASON_BLOCK: {REJECT_REASON_INPUT: {"type": "plain_text_input", "value": "smoke is red"}}}
    answer = await post_signed(f"{bot.url}/slack/events", view_submission(
        VIEW_SIGNOFF_REJECT, user="U0TECH", private_metadata=view["private_metadata"], values=reason))
    assert answer.status == 200
    await bot.slack_settled()

    def rejected(service: str) -> list[str]:
        ops = desk.chatops[service]
        latest = SignoffService(ops.store, ops.checklist).latest("pre")
        return [r for r, d in (latest.decisions.items() if latest else []) if d.decision == "reject"]

    await until(lambda: rejected("beta") == ["tech_lead"], "beta's reject recorded")
    assert rejected("alpha") == []
