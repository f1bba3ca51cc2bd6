"""`golive …` messages posted to /api/messages as Teams sends them: with or without the @mention, answered
with Adaptive Cards, runs hitting the real PostgreSQL and Redis through the shared ChatOps engine."""

from __future__ import annotations

import asyncio

import pytest

from bot.settings import Settings
from bot.teams.app import TeamsConfigError, build_teams, teams_routes
from bot.teams.receive import command_text
from bot.teams.recovery import recover_interrupted_runs
from tests.teams.conftest import OUTSIDER, TECH_LEAD, TeamsClient
from tests.teams.support import BOT, CHANNEL, Connector, base_activity, card_text, cards_of, message, user


@pytest.mark.parametrize(("text", "command"), [
    ("<at>golive</at> run day1", "run day1"),
    ("<at>golive</at>&nbsp;status", "status"),
    ("golive signoff pre", "signoff pre"),
    ("/golive help", "help"),
    ("<p><at>Go Live Bot</at> run <b>redis.ping</b></p>", "run redis.ping"),
    ("status", "status"),
    ("", ""),
])
def test_command_text_strips_mentions_markup_and_the_bot_name(text: str, command: str) -> None:
    assert command_text(text) == command


async def test_help_with_and_without_the_mention(client: TeamsClient) -> None:
    for activity in (message("help", client.service_url, user(OUTSIDER)),
                     message("golive help", client.service_url, user(OUTSIDER), mention=False)):
        [card] = await client.reply_cards(activity)
        assert "golive run <phase|check>" in card_text(card) and "golive signoff pre|post" in card_text(card)


async def test_unknown_command_answers_with_help(client: TeamsClient) -> None:
    [card] = await client.reply_cards(message("deploy everything", client.service_url, user(OUTSIDER)))
    assert "did not understand `deploy everything`" in card_text(card)


async def test_run_day1_yields_a_card_with_the_verdict(client: TeamsClient) -> None:
    """expectReplies: the run happens within the request and its final card comes back in the response."""
    [card] = await client.reply_cards(message("run day1", client.service_url, user(TECH_LEAD, "Tess Lead")))
    text = card_text(card)
    assert "Run day1 — GO" in text and "3 passed: db.connect, redis.ping, redis.roundtrip" in text
    assert "Requested by Tess Lead" in text  # the Entra id is shown by the name Teams sent with it
    store = client.transport.bot.chatops.store
    [run] = store.runs(checklist="teams-test")
    assert (run.selector, run.source, run.requested_by, run.verdict.decision.label) == \
        ("day1", "teams", TECH_LEAD, "GO")
    assert {r.check_id: r.status.value for r in store.results(run.id)} == \
        {"db.connect": "pass", "redis.ping": "pass", "redis.roundtrip": "pass"}


async def test_run_over_the_bot_connector_updates_its_card_in_place(client: TeamsClient, connector: Connector) -> None:
    """Normal delivery: 202 at once, a "running" card posted to the command's thread through the serviceUrl,
    then the same message updated (PUT) until it shows the verdict — a phase may outlast Teams' HTTP timeout."""
    activity = message("run day3", client.service_url, user(TECH_LEAD, "Tess Lead"))
    status, _ = await client.post(activity)
    assert status == 202
    await client.transport.bot.drain()
    posts = [c for c in connector.calls if c.method == "POST"]
    assert len(posts) == 2 and {p.conversation for p in posts} == {activity["conversation"]["id"]}
    assert "Running day3" in card_text(cards_of(posts[0].body))
    assert "cache.ping" in card_text(cards_of(posts[1].body))  # the failed check's evidence, in the thread
    updates = [c for c in connector.calls if c.method == "PUT"]
    assert updates and all(u.activity_id == "msg-1000" for u in updates)
    final = card_text(cards_of(updates[-1].body))
    assert "Run day3 — NO-GO" in final and "cache.ping" in final and "no PONG" in final


async def test_unknown_phase_is_a_plain_failure(client: TeamsClient) -> None:
    [card] = await client.reply_cards(message("run day9", client.service_url, user(TECH_LEAD)))
    assert "day9" in card_text(card) and card["body"][0]["color"] == "attention"


async def test_status_shows_phases_verdict_and_missing_signoffs(client: TeamsClient) -> None:
    await client.reply_cards(message("run day1", client.service_url, user(TECH_LEAD)))
    [card] = await client.reply_cards(message("status", client.service_url, user(OUTSIDER)))
    text = card_text(card)
    assert "golive status — teams-test" in text and "NO-GO" in text  # day3 has not run: critical pending
    assert "Environment (day1)" in text and "3 pass" in text and "cache.ping: has not run" in text
    assert "Tech Lead (pre)" in text and "DevOps Lead (pre)" in text


async def test_a_redelivered_message_runs_once(client: TeamsClient, connector: Connector) -> None:
    """Teams retries a request it thinks timed out, with the same activity id: one run, one answer."""
    activity = message("run redis.ping", client.service_url, user(TECH_LEAD))
    results = await asyncio.gather(client.post(activity), client.post(activity))
    assert [status for status, _ in results] == [202, 202]
    await client.transport.bot.drain()
    assert len(client.transport.bot.chatops.store.runs(checklist="teams-test")) == 1
    assert len([c for c in connector.calls if c.method == "POST"]) == 1


async def test_the_conversation_reference_and_name_are_kept(client: TeamsClient) -> None:
    await client.reply_cards(message("help", client.service_url, user(OUTSIDER, "Otto Sider")))
    references = client.transport.bot.references
    reference = references.reference(CHANNEL)
    assert reference is not None and reference.service_url == client.service_url
    assert reference.conversation.id == CHANNEL and reference.activity_id is None  # the channel, not the thread
    assert references.name(OUTSIDER) == "Otto Sider"


async def test_without_anonymous_access_a_request_needs_a_token(settings: Settings, chatops, post_to) -> None:
    """Anonymous access is a test setting: with real credentials an unauthenticated POST is refused."""
    production = settings.model_copy(update={"teams_anonymous": False, "teams_app_id": "00000000-aaaa",
                                             "teams_app_password": settings.teams_app_password or _secret()})
    transport = build_teams(production, chatops)
    status, _ = await post_to(teams_routes(transport), message("help", "http://127.0.0.1:9/", user(OUTSIDER)))
    assert status == 401
    status, _ = await post_to(teams_routes(transport), message("help", "http://127.0.0.1:9/", user(OUTSIDER)),
                                   Authorization="Bearer not-a-jwt")
    assert status == 401
    assert chatops.store.audit_log() == []  # nothing reached the bot


def test_teams_needs_credentials_unless_anonymous(settings: Settings, chatops) -> None:
    with pytest.raises(TeamsConfigError, match="TEAMS_APP_ID and TEAMS_APP_PASSWORD"):
        build_teams(settings.model_copy(update={"teams_anonymous": False}), chatops)


def _secret():
    from pydantic import SecretStr

    return SecretStr("app-password-for-tests")


async def test_a_run_card_left_running_by_a_dead_process_is_repainted(client: TeamsClient,
                                                                      connector: Connector) -> None:
    """Start-up recovery: the run a crashed replica left 'running' is marked interrupted and its card says so."""
    bot = client.transport.bot
    await client.reply_cards(message("help", connector.url, user(OUTSIDER)))  # the channel's reference is known
    run = bot.chatops.store.create_run(checklist="teams-test", selector="day1", requested_by=TECH_LEAD,
                                       source="teams", expected=bot.chatops.checklist.phases[0].checks)
    bot.chatops.store.db.execute("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00+00:00' WHERE id = :id",
                                 {"id": run.id})  # its process died: no heartbeat for long
    thread = f"{CHANNEL};messageid=42"
    bot.chatops.store.remember_message(subject=run.id, transport="teams", purpose="parent", channel=thread,
                                       ts="msg-card-1")  # where the dead process left its card
    await bot.start()
    try:
        [repaint] = [c for c in connector.calls if c.method == "PUT"]
        assert (repaint.conversation, repaint.activity_id) == (thread, "msg-card-1")
        assert "Run day1 — interrupted" in card_text(cards_of(repaint.body)) and "0/3 checks done" in \
            card_text(cards_of(repaint.body))
        assert bot.chatops.store.get_run(run.id).status == "interrupted"
        assert await recover_interrupted_runs(bot) == []  # repainted once only
    finally:
        await bot.stop()


async def test_added_to_a_team_the_bot_introduces_itself(client: TeamsClient) -> None:
    update = base_activity("conversationUpdate", client.service_url, user(OUTSIDER), conversation=CHANNEL)
    update["membersAdded"] = [BOT]
    [card] = await client.reply_cards(update)
    assert "golive run <phase|check>" in card_text(card)
    assert client.transport.bot.references.reference(CHANNEL) is not None  # it can post there from now on
    update = base_activity("conversationUpdate", client.service_url, user(OUTSIDER), conversation=CHANNEL)
    update["membersAdded"] = [user("aad-newcomer")]
    assert await client.replies(update) == []
