"""`@golive waive <check> <duration> <reason>` / `@golive unwaive <check>` from Teams, as real Activity JSON
to /api/messages (issue 10, Done-when 4): role refusal (audited), grant, expiry, revoke; the status card
lists the waiver and its verdict changes, then changes back."""

from __future__ import annotations

import asyncio

from bot.runs.status import build_status
from bot.store import Store
from checks.spec import Checklist
from tests.teams.conftest import OUTSIDER, TECH_LEAD, TeamsClient
from tests.teams.support import card_text, message, user
from tests.waiver_support import seed_results


def waived_conditions(store: Store, checklist: Checklist) -> list[str]:
    return [c for c in build_status(store, checklist).verdict.conditions if c.startswith("redis.roundtrip")]


async def test_waive_and_unwaive_from_teams(client: TeamsClient, store: Store, checklist: Checklist) -> None:
    seed_results(store, checklist, {"db.connect": "pass", "redis.ping": "pass", "redis.roundtrip": "fail",
                                    "cache.ping": "pass"})
    url = client.service_url
    assert waived_conditions(store, checklist)

    async def say(text: str, who: str) -> str:
        return card_text(await client.reply_cards(message(text, url, user(who))))

    assert "Not allowed" in await say("waive redis.roundtrip 2h flaky", OUTSIDER)
    assert store.audit_log(action="access.denied", limit=1)[0]["actor"] == OUTSIDER
    assert "does not allow waiving it" in await say("waive redis.ping 2h known", TECH_LEAD)

    granted = await say("waive redis.roundtrip 1s failover drill", TECH_LEAD)
    assert f"waived by {TECH_LEAD} until" in granted and "failover drill" in granted
    assert waived_conditions(store, checklist) == []
    status = await say("status", TECH_LEAD)
    assert "Waived" in status and f"redis.roundtrip: waived by {TECH_LEAD}" in status

    await asyncio.sleep(1.1)
    assert waived_conditions(store, checklist)  # expired: a condition again
    assert "Waived" not in await say("status", TECH_LEAD)

    await say("waive redis.roundtrip 2h failover drill", TECH_LEAD)
    assert waived_conditions(store, checklist) == []
    assert f"revoked by {TECH_LEAD}" in await say("unwaive redis.roundtrip", TECH_LEAD)
    assert waived_conditions(store, checklist)

    audit = [(row["action"], row["detail"].get("transport")) for row in store.audit_log(limit=30)
             if row["action"].startswith("waiver.")]
    assert audit.count(("waiver.granted", "teams")) == 2 and ("waiver.revoked", "teams") in audit
    assert ("waiver.refused", "teams") in audit
