"""Reading Slack's block_actions payloads (who clicked which button, in which message), in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.chatops.actor import Actor
from bot.services.desk import untag_value
from bot.slack.ids import TRANSPORT

if TYPE_CHECKING:
    from bot.conversation.pipeline import Inbound
    from bot.slack.answer import Respond
    from bot.slack.deps import SlackDeps


@dataclass(frozen=True)
class Click:
    actor: Actor
    action_id: str
    value: str
    channel: str | None
    message_ts: str | None
    delivery_key: str  # the same for a redelivery of this click, different for a second click


def read_click(body: dict[str, Any]) -> Click:
    action = body["actions"][0]
    container = body.get("container") or {}
    user = body["user"]["id"]
    return Click(
        actor=Actor(user_id=user, transport=TRANSPORT),
        action_id=action["action_id"],
        value=action.get("value", ""),
        channel=container.get("channel_id") or (body.get("channel") or {}).get("id"),
        message_ts=container.get("message_ts"),
        delivery_key=f"action:{user}:{action['action_id']}:{action.get('value', '')}:{action.get('action_ts', '')}",
    )


def inbound_click(deps: SlackDeps, body: dict[str, Any], respond: Respond | None,
                  command: Callable[[str], Any]) -> Inbound:
    """A button press as the inbound pipeline takes it: `command` reads the button's value."""
    from bot.conversation.pipeline import Inbound
    from bot.slack.sink import SlackSink

    click = read_click(body)
    sink = SlackSink(deps, channel=click.channel, user=click.actor.user_id, respond=respond,
                     clicked_ts=click.message_ts, trigger_id=body.get("trigger_id"))
    value, service = untag_value(click.value)  # the service the button was drawn for, if the bot serves several
    return Inbound(TRANSPORT, click.actor.user_id, command(value), click.delivery_key, sink, channel=click.channel,
                   service=service)
