"""The reject modal's submission: an empty reason is refused inside the modal; otherwise the modal
closes at once and the reject goes through the inbound pipeline to the card."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.conversation.pipeline import Inbound, SignoffClick
from bot.slack.deps import SlackDeps
from bot.slack.ids import REJECT_REASON_BLOCK, REJECT_REASON_INPUT, TRANSPORT, VIEW_SIGNOFF_REJECT
from bot.slack.sink import SlackSink


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
        if len(reason) < 3:  # refused inside the modal already
            return
        meta = json.loads(view.get("private_metadata") or "{}")
        user = body["user"]["id"]
        sink = SlackSink(deps, channel=meta.get("channel"), user=user, respond=None, clicked_ts=meta.get("ts"))
        click = SignoffClick(meta.get("request", ""), meta.get("role", ""), "reject", reason=reason)
        await deps.pipeline.handle(Inbound(TRANSPORT, user, click, f"view:{view.get('id')}:{view.get('hash')}", sink,
                                           channel=meta.get("channel"), service=meta.get("service")))

    app.view(VIEW_SIGNOFF_REJECT)(ack=ack_reason, lazy=[record_reject])
