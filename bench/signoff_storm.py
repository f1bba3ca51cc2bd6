"""Sign-off storm: 100 concurrent clicks on one Approve button, over real HTTP, to `golive serve --http`.

Every click is a distinct delivery (its own action_ts), so delivery dedup does not hide them: the
store's primary key must record exactly one sign-off and the audit log exactly one approval; the 99
other clickers are told it was already approved.

Run: python -m bench.signoff_storm
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector

from bench.harness import (
    LEADS,
    BotProcess,
    SlackStub,
    button_click,
    open_signoff_card,
    percentile,
    post_signed,
    running_bot,
)
from bot.slack.ids import ACTION_SIGNOFF_APPROVE
from bot.store import open_store

CLICKS = 100
ROLE = "tech_lead"


def count_records(bot: BotProcess, request_id: str) -> dict[str, int]:
    """Sign-off rows and audit entries of the request, read from the bot's own store."""
    store = open_store(bot.env.get("GOLIVE_DATABASE_URL"), sqlite_path=bot.log_path.parent / "golive.db")
    try:
        signoffs = store.db.fetchall("SELECT * FROM signoffs WHERE request_id = :id", {"id": request_id})
        audit = store.audit_log(subject=request_id, limit=1000)
    finally:
        store.close()
    return {"signoffs": len(signoffs), "approvals_audited": sum(1 for a in audit if a["action"] == "signoff.approve"),
            "audit_entries": len(audit)}


async def storm(bot: BotProcess, stub: SlackStub, clicks: int = CLICKS, timeout: float = 60.0) -> dict[str, Any]:
    connector = TCPConnector(limit=clicks + 10)
    async with ClientSession(timeout=ClientTimeout(total=30), connector=connector) as http:
        card_ts, buttons = await open_signoff_card(http, bot, stub)
        value = next(v for a, v in buttons if a == ACTION_SIGNOFF_APPROVE and v.endswith(":" + ROLE))
        request_id = value.split(":", 1)[0]
        answered_before = len(stub.methods("response_url")) + len(stub.methods("chat.postEphemeral"))
        updates_before = len(stub.methods("chat.update"))
        url = bot.base_url + "/slack/events"
        bodies = [button_click(ACTION_SIGNOFF_APPROVE, value, user=LEADS[ROLE], message_ts=card_ts,
                               response_url=stub.response_url(f"click{i}")) for i in range(clicks)]
        started = time.perf_counter()
        results = await asyncio.gather(*(post_signed(http, url, body) for body in bodies))
        statuses = [s for s, _ in results]
        acks = [ms for _, ms in results]
        # every click is answered: one card update for the recorded approval, a notice for the others
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answered = (len(stub.methods("response_url")) + len(stub.methods("chat.postEphemeral"))
                        - answered_before)
            updated = len(stub.methods("chat.update")) - updates_before
            if answered + updated >= clicks:
                break
            await asyncio.sleep(0.02)
        done_ms = (time.perf_counter() - started) * 1000
    counts = count_records(bot, request_id)
    return {"clicks": clicks, "http_200": statuses.count(200), "ack_p50_ms": round(statistics.median(acks), 1),
            "ack_p99_ms": round(percentile(acks, 99), 1), "all_answered_ms": round(done_ms, 1),
            "card_updates": updated, "notices": answered, **counts, "request_id": request_id}


def main() -> dict[str, Any]:
    with running_bot() as (bot, stub):
        figures = asyncio.run(storm(bot, stub))
    ok = figures["signoffs"] == 1 and figures["approvals_audited"] == 1
    print(f"sign-off storm: {figures['clicks']} concurrent clicks on one Approve button -> "
          f"{figures['signoffs']} sign-off recorded, {figures['approvals_audited']} approval audited "
          f"({'OK' if ok else 'WRONG'}); {figures['http_200']} acked 200 (p50 {figures['ack_p50_ms']} ms, "
          f"p99 {figures['ack_p99_ms']} ms); all {figures['clicks']} clicks answered in "
          f"{figures['all_answered_ms']} ms ({figures['card_updates']} card update, {figures['notices']} "
          f"'already approved' notices)")
    return figures


if __name__ == "__main__":
    main()
