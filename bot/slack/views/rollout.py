"""Rollout announcements (promoted, rolled back, …) and watch alerts (opened, escalated, all-clear),
the latter with Roll back / Keep going buttons whose handling belongs to the rollout area."""

from __future__ import annotations

import re

from slack_sdk.models.blocks import Block, ButtonElement, ConfirmObject, PlainTextObject

from bot.announcements.events import AlertEvent, Announcement
from bot.slack.ids import ACTION_ROLLOUT_KEEP_GOING, ACTION_ROLLOUT_ROLLBACK
from bot.slack.views.blocks import (
    ITEM_LIMIT,
    SlackMessage,
    actions,
    bullet_list,
    button,
    context,
    esc,
    esc_items,
    header,
    page_link,
    section,
    user,
    when,
)

ANNOUNCE = {
    "promoted": ("🚀", "promoted"),
    "rolled_back": ("⏪", "rolled back"),
    "refused": ("🚫", "promotion refused"),
    "paused": ("⏸️", "paused"),
    "resumed": ("▶️", "resumed"),
    "blind": ("🙈", "watch cannot evaluate some rules"),
}
LEVEL_ICON = {"P0": "🔴", "P1": "🟠", "P2": "🟡"}
_MENTION = re.compile(r"^<(@[UW][A-Z0-9]+|!subteam\^[A-Z0-9]+(\|[^<>]*)?|!here|!channel)>$")


def mention(text: str | None) -> str:
    """A Slack mention passes through untouched; anything else is shown as plain text."""
    if not text:
        return ""
    return text if _MENTION.match(text) else esc(text)


def announcement_message(event: Announcement) -> SlackMessage:
    icon, _ = ANNOUNCE.get(event.kind, ("📣", event.kind.replace("_", " ")))
    headline = event.headline
    by = f" by {user(event.by_person)}" if event.by_person else ""  # the watch acting alone is no "by"
    blocks = [header(f"{icon} {event.checklist}: {headline}"),
              section(f"{esc(headline[:1].upper() + headline[1:])}{by} {when(event.at)}")]
    if event.flags:
        flags = [f"`{esc(k, ITEM_LIMIT)}={esc(v, ITEM_LIMIT)}`" for k, v in event.flags.items()]
        blocks.append(section("*Flags*\n" + bullet_list(flags,
                                                      limit=20)))
    if event.reasons:
        blocks.append(section("*Why*\n" + bullet_list(esc_items(event.reasons), limit=15)))
    record = page_link("record", event.checklist, "deployment record")
    blocks.append(context("alerts for this phase are posted in this thread" + (f" · {record}" if record else "")))
    text = f"{esc(event.checklist)}: {esc(headline)}" + (f" (by {user(event.by_person)})" if event.by_person else "")
    return SlackMessage(text=text, blocks=blocks)


def _alert_buttons(event: AlertEvent) -> list[ButtonElement]:
    buttons = []
    if event.level == "P0" or "rollback" in event.actions:
        confirm = ConfirmObject(title=PlainTextObject(text="Roll back?"),
                                text=PlainTextObject(text=f"Turn off the flags of {event.phase}?"),
                                confirm=PlainTextObject(text="Roll back"), deny=PlainTextObject(text="Cancel"))
        buttons.append(button(f"Roll back {event.phase}", ACTION_ROLLOUT_ROLLBACK, event.phase, "danger",
                              confirm=confirm))
    if "keep_going" in event.actions:
        buttons.append(button("Keep going", ACTION_ROLLOUT_KEEP_GOING, event.phase))
    return buttons


def alert_message(event: AlertEvent) -> SlackMessage:
    icon = LEVEL_ICON.get(event.level, "⚠️")
    measured = ""
    if event.value is not None or event.threshold is not None:
        measured = f"\nvalue `{esc(event.value)}` · threshold `{esc(event.threshold)}`"
    blocks: list[Block]
    if event.state == "resolved" and not event.healthy:  # closed by a rollback: nothing says it is healthy
        text = f"⏹️ Alert closed: {event.rule} on {event.phase} — {event.message}"
        blocks = [section(f"⏹️ *Alert closed* — `{esc(event.rule)}` on *{esc(event.phase)}*: {esc(event.message)}")]
    elif event.state == "resolved":
        text = f"✅ All clear: {event.rule} on {event.phase} — {event.message}"
        blocks = [section(f"✅ *All clear* — `{esc(event.rule)}` on *{esc(event.phase)}*: {esc(event.message)}")]
    elif event.state == "escalated":
        who = mention(event.mention)
        text = f"{event.level} escalated: {event.rule} on {event.phase} — {event.message}"
        blocks = [section(f"📣 {icon} *{event.level} escalated* {who} — `{esc(event.rule)}` on *{esc(event.phase)}*: "
                          f"{esc(event.message)}{measured}")]
    else:
        text = f"{event.level} alert: {event.rule} on {event.phase} — {event.message}"
        blocks = [section(f"{icon} *{event.level} alert* — `{esc(event.rule)}` on *{esc(event.phase)}*: "
                          f"{esc(event.message)}{measured}")]
    if event.chart:
        blocks.append(section(f"```{esc(event.chart)}```"))
    if event.state != "resolved" and (buttons := _alert_buttons(event)):
        blocks.append(actions(*buttons, block_id=f"alert:{event.incident_id}"[:255]))
    page = page_link("rollout", event.checklist, "rollout page: charts and timeline")
    blocks.append(context(f"incident `{esc(event.incident_id)}` · {when(event.at)}" + (f" · {page}" if page else "")))
    return SlackMessage(text=esc(text), blocks=blocks)


def alert_closed_message(event: AlertEvent) -> SlackMessage:
    """What an opened alert becomes once resolved: the same facts, struck through, without buttons."""
    icon = LEVEL_ICON.get(event.level, "⚠️")
    ended = "resolved" if event.healthy else "closed"
    return SlackMessage(
        text=esc(f"{event.level} alert {ended}: {event.rule} on {event.phase}"),
        blocks=[section(f"{icon} ~{event.level} alert — `{esc(event.rule)}` on *{esc(event.phase)}*~ "
                        f"{ended} {when(event.at)}: {esc(event.message)}"),
                context(f"incident `{esc(event.incident_id)}`" + (f" · {page}" if (page := page_link(
                    "rollout", event.checklist, "rollout page")) else ""))],
    )
