"""A check that needs a person (the Sentry test event without an API token) gets a Confirm button in its
thread reply: only role members may press it, it is recorded once, and the run's verdict is recomputed."""

from __future__ import annotations

import asyncio
import time

from bot.slack.ids import ACTION_CHECK_CONFIRM
from checks.loader import parse_checklist
from checks.result import Status
from tests import manual_kind
from tests.slack.support import SlackStub, block_action, post_signed, running_bot

CHECKLIST = f"""
name: confirm-test
phases:
  - id: day1
    checks:
      - {{id: sentry.test_event, kind: {manual_kind.KIND}, criticality: critical}}
      - {{id: env.path, kind: env, criticality: high, params: {{var: PATH}}}}
signoffs:
  pre:
    roles:
      - {{id: tech_lead, title: Tech Lead, members: [U0TECH]}}
"""


async def test_confirm_button_records_once_and_turns_no_go_into_go(stub: SlackStub, store) -> None:
    checklist = parse_checklist(CHECKLIST, "confirm.yml")
    async with running_bot(stub, checklist, store) as bot:
        await bot.command("run day1", user="U0RELEASE")
        parent = (await stub.wait_for(lambda: stub.posts(top_level=True), what="parent"))[0]
        parent_ts = parent.payload["ts"]
        await stub.wait_for(lambda: [c for c in stub.updates(parent_ts) if "NO-GO" in c.text], what="NO-GO")
        reply = (await stub.wait_for(lambda: stub.posts(thread_ts=parent_ts), what="thread reply"))[0]
        [button] = [e for b in reply.payload["blocks"] for e in b.get("elements", [])
                    if e.get("action_id") == ACTION_CHECK_CONFIRM]
        run_id = store.runs()[0].id
        assert button["value"] == f"{run_id}|sentry.test_event"

        outsider = block_action(ACTION_CHECK_CONFIRM, button["value"], user="U0STRANGER",
                                message_ts=reply.payload["ts"], response_url=stub.response_url("outsider"))
        await post_signed(bot.events_url, outsider)
        refusal = await stub.wait_for(lambda: [c for c in stub.of("response_url")
                                               if c.payload["response_url_name"] == "outsider"], what="refusal")
        assert "Not allowed" in refusal[0].text
        assert store.audit_log(action="access.denied", subject=f"{run_id}:sentry.test_event")

        clicks = [block_action(ACTION_CHECK_CONFIRM, button["value"], user="U0TECH", message_ts=reply.payload["ts"],
                               response_url=stub.response_url(f"c{i}"), action_ts=f"{time.time():.6f}{i}")
                  for i in range(5)]
        await asyncio.gather(*(post_signed(bot.events_url, body) for body in clicks))
        await stub.wait_for(lambda: [c for c in stub.updates(parent_ts) if "GO" in c.text and "NO-GO" not in c.text],
                            what="GO after the confirmation")
        await asyncio.sleep(0.3)
        assert len(store.audit_log(action="check.confirmed")) == 1
        [result] = [r for r in store.results(run_id) if r.check_id == "sentry.test_event"]
        assert result.status is Status.PASS and result.summary.startswith("confirmed by U0TECH")
        assert store.get_run(run_id).verdict.go  # type: ignore[union-attr]
        thread_now = stub.latest(reply.payload["ts"])
        assert thread_now is not None and ACTION_CHECK_CONFIRM not in thread_now.blocks_json
        stub.assert_clean()
