"""`/golive waive <check> <duration> <reason>` and `/golive unwaive <check>` over signed HTTP to the Slack
bot (issue 10, Done-when 4): role refusal (audited), grant, the verdict and the status message change,
expiry and revoke change them back; every Block Kit message goes through the Web API stub."""

from __future__ import annotations

import asyncio

from bot.runs.status import build_status
from bot.store import Store
from checks.spec import Checklist
from checks.verdict import Decision
from tests.slack.support import SlackStub, running_bot
from tests.waiver_support import seed_results

PASSING = {"db.connect": "pass", "redis.ping": "pass", "redis.roundtrip": "fail", "slow.step": "pass",
           "quick.true": "pass"}


def decision(store: Store, checklist: Checklist) -> Decision:
    return build_status(store, checklist).verdict.decision


async def test_waive_and_unwaive_from_slack(stub: SlackStub, checklist: Checklist, store: Store) -> None:
    seed_results(store, checklist, PASSING)
    before = decision(store, checklist)
    assert before is not Decision.NO_GO and "redis.roundtrip: fail (seeded)" in \
        build_status(store, checklist).verdict.conditions

    async with running_bot(stub, checklist, store) as bot:
        async def reply(text: str, user: str, name: str) -> str:
            await bot.command(text, user=user, response=name)
            calls = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                                 if c.payload["response_url_name"] == name], what=name)
            return calls[0].text

        refused = await reply("waive redis.roundtrip 2h flaky", "U0STRANGER", "refused")
        assert "only people mapped to a sign-off role" in refused
        assert store.audit_log(action="access.denied", limit=1)[0]["actor"] == "U0STRANGER"
        assert "does not allow waiving it" in await reply("waive redis.ping 2h known", "U0TECH", "critical")
        assert "waive` takes a check" in await reply("waive redis.roundtrip", "U0TECH", "usage")

        granted = await reply("waive redis.roundtrip 1s cache cluster migrating", "U0TECH", "granted")
        assert "waived by U0TECH until" in granted and "cache cluster migrating" in granted
        waived = build_status(store, checklist).verdict
        assert not any(c.startswith("redis.roundtrip") for c in waived.conditions)
        assert waived.waived and waived.waived[0].startswith("redis.roundtrip: waived by U0TECH")
        await bot.command("status", response="status")
        status = await stub.wait_for(lambda: [c for c in stub.posts(top_level=True) if "Waived" in c.blocks_json],
                                     what="the status message with the waiver")
        assert "waived by U0TECH" in status[0].blocks_json

        await asyncio.sleep(1.1)  # expired: a condition again
        assert any(c.startswith("redis.roundtrip") for c in build_status(store, checklist).verdict.conditions)

        await reply("waive redis.roundtrip 2h cache cluster migrating", "U0TECH", "again")
        assert not any(c.startswith("redis.roundtrip") for c in build_status(store, checklist).verdict.conditions)
        revoked = await reply("unwaive redis.roundtrip", "U0TECH", "revoked")
        assert "revoked by U0TECH" in revoked
        assert any(c.startswith("redis.roundtrip") for c in build_status(store, checklist).verdict.conditions)
        stub.assert_clean()

    audit = [(row["action"], row["detail"].get("transport")) for row in store.audit_log(limit=30)
             if row["action"].startswith("waiver.")]
    assert audit.count(("waiver.granted", "slack")) == 2 and ("waiver.revoked", "slack") in audit
    assert ("waiver.refused", "slack") in audit
