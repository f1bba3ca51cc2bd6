"""The reject modal's submission: an empty reason is refused inside the modal; otherwise the modal
closes at once and the reject is recorded and shown on the card."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.chatops.actor import Actor
from bot.chatops.replies import SignoffDecided
from bot.slack.answer import answer, refresh_card
from bot.slack.deps import SlackDeps
from bot.slack.ids import REJECT_REASON_BLOCK, REJECT_REASON_INPUT, TRANSPORT, VIEW_SIGNOFF_REJECT


def reason_of(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    return ((values.get(REJECT_REASON_BLOCK) or {}).get(REJECT_REASON_INPUT) or {}).get("value") or ""


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def ack_reason(ack: AsyncAck, view: dict[str, Any]) -> None:
        if len(reason_of(view).strip()) < 3:
            await ack(response_action="errors", errors={REJECT_REASON_BLOCK: "Say why (a few words at least)."})
        else:
            await ack()

    async def record_reject(body: dict[str, Any], view: dict[str, Any]) -> None:
        reason = reason_of(view).strip()
        if len(reason) < 3 or not await deps.first_delivery(f"view:{view.get('id')}:{view.get('hash')}"):
            return
        meta = json.loads(view.get("private_metadata") or "{}")
        actor = Actor(user_id=body["user"]["id"], transport=TRANSPORT)
        reply = await deps.chatops.decide_signoff(actor, meta.get("request", ""), meta.get("role", ""), "reject",
                                                  reason=reason)
        if isinstance(reply, SignoffDecided):
            await refresh_card(deps, reply, fallback_channel=meta.get("channel"), fallback_ts=meta.get("ts"))
        else:
            await answer(deps, reply, channel=meta.get("channel") or "", user=actor.user_id, respond=None)

    app.view(VIEW_SIGNOFF_REJECT)(ack=ack_reason, lazy=[record_reject])
