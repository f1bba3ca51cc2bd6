"""Building blocks every view shares, and the limits Slack enforces on what we send.

Blocks are built with slack_sdk models (their validators run on `to_dict`), then `SlackMessage.payload`
keeps the whole message inside Slack's limits: at most 50 blocks, 3000 characters per section text,
a `text` far under Slack's 40,000 characters and a blocks JSON well under ~12k characters, trimming
the longest text when needed with a note saying where the rest is (`golive status --run <id>` for a run).
Every message carries a top-level `text` fallback (notifications, screen readers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.services.desk import tag_value
from checks.masking import scrub

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_FALLBACK_TEXT = 3000
BLOCKS_JSON_BUDGET = 10_000
"""Our ceiling for the blocks JSON of one message; Slack's own hard limit is higher (~12k+)."""

MASK_INPUT_LIMIT = 6000
"""Text is cut to this before masking: no view shows more than 3000 characters of one text, and the
masker's patterns cost quadratic time on long unbroken runs (a 60k-character token takes seconds).
The cut is far beyond what is shown, so a secret split by it is never displayed."""


def safe(text: object, limit: int = MASK_INPUT_LIMIT) -> str:
    """Scrubbed (known secret values and shapes: the text is ours, built from results masked at the source,
    so name rules would only garble our sentences), after cutting to `limit` so it stays cheap."""
    raw = str(text)
    return scrub(raw[:limit]) + ("…" if len(raw) > limit else "")


def esc(text: object, limit: int = MASK_INPUT_LIMIT) -> str:
    """Masked and escaped for mrkdwn: secrets never reach Slack, `<`/`>`/`&` never become markup."""
    return safe(text, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int, *, noted: bool = False) -> str:
    """`text` cut to at most `limit` characters; `noted` adds a line saying it was truncated."""
    if len(text) <= limit:
        return text
    suffix = f"\n_…truncated from {len(text):,} characters_" if noted else "…"
    return text[: max(0, limit - len(suffix))] + suffix


def user(user_id: str | None) -> str:
    """A mention for a chat user id; ids from other transports are shown as text."""
    if user_id and user_id[:1] in ("U", "W") and user_id.isalnum():
        return f"<@{user_id}>"
    return esc(user_id or "someone")


def when(at: datetime | None) -> str:
    """A Slack date token (shown in each reader's own time zone) with a UTC fallback."""
    if at is None:
        return "never"
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def page_link(kind: Any, object_id: str | None, text: str) -> str | None:
    """A link to the object's page in the web view (bot.web), or None when GOLIVE_PUBLIC_URL is unset."""
    from bot.web.links import link

    url = link(kind, object_id)
    return f"<{url.replace('&', '&amp;')}|{text}>" if url else None


def evidence_hint(run_id: str | None) -> str:
    """What a trimmed message says about the rest: the run's page in the web view, or without one the
    command that shows a run's evidence in full."""
    if run_id and (page := page_link("run", run_id, "open the run's page")):
        return f"… (full evidence: {page})"
    return f"… (full evidence: `golive status --run {run_id}`)" if run_id else "…more not shown (message size limit)"


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION_TEXT, noted=True)))


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(safe(text), MAX_HEADER_TEXT), emoji=True))


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(t, 2000)) for t in texts[:10]])


def divider() -> DividerBlock:
    return DividerBlock()


def button(text: str, action_id: str, value: str, style: str | None = None, *, confirm: Any = None) -> ButtonElement:
    """`value` carries the service it was drawn for when the bot serves several (bot.services.desk)."""
    return ButtonElement(text=PlainTextObject(text=clip(text, MAX_BUTTON_TEXT), emoji=True), action_id=action_id,
                         value=tag_value(value), style=style, confirm=confirm)


def actions(*elements: ButtonElement, block_id: str | None = None) -> ActionsBlock:
    return ActionsBlock(elements=list(elements), block_id=block_id)


ITEM_LIMIT = 300
"""Characters of one list item."""


def esc_items(items: list[str]) -> list[str]:
    """List items from raw text, each cut short before it is masked and escaped."""
    return [esc(item, ITEM_LIMIT) for item in items]


def bullet_list(items: list[str], limit: int = 10, *, budget: int = 2400, item_limit: int = ITEM_LIMIT,
                ) -> str:
    """Bullets, each clipped, stopping at `limit` items or `budget` characters with a count of the rest."""
    shown: list[str] = []
    used = 0
    for item in items[:limit]:
        line = f"• {clip(item, item_limit)}"
        if shown and used + len(line) > budget:
            break
        shown.append(line)
        used += len(line) + 1
    if len(shown) < len(items):
        shown.append(f"• …and {len(items) - len(shown)} more")
    return "\n".join(shown)


@dataclass
class SlackMessage:
    """One message: the fallback `text` and its blocks, ready for chat.postMessage / chat.update."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    run_id: str | None = None
    """The run this message shows, if any: a trimmed message points at `golive status --run <id>`."""

    def payload(self) -> dict[str, Any]:
        return {"text": clip(safe(self.text), MAX_FALLBACK_TEXT), "blocks": fit_blocks(self.blocks, self.run_id)}


def fit_blocks(blocks: list[Block], run_id: str | None = None) -> list[dict[str, Any]]:
    """Validate (slack_sdk validators) and fit within our limits, trimming rather than failing."""
    dicts = [b.to_dict() for b in blocks]
    hint = evidence_hint(run_id)
    if len(dicts) > MAX_BLOCKS:
        dropped = len(dicts) - (MAX_BLOCKS - 1)
        dicts = [*dicts[:MAX_BLOCKS - 1], context(f"_{dropped} more blocks not shown_ {hint}").to_dict()]
    noted = False
    while len(json.dumps(dicts)) > BLOCKS_JSON_BUDGET:
        longest = max((d for d in dicts if d.get("type") == "section" and "text" in d),
                      key=lambda d: len(d["text"]["text"]), default=None)
        if longest is None or len(longest["text"]["text"]) <= 200:
            if len(dicts) <= 2:
                break
            dicts = [*dicts[:-2], context(hint).to_dict()]
            noted = True
            continue
        text = longest["text"]["text"]
        longest["text"]["text"] = clip(text, max(200, len(text) // 2))
        if not noted:
            if len(dicts) >= MAX_BLOCKS:
                dicts = dicts[:MAX_BLOCKS - 1]
            dicts.append(context(hint).to_dict())
            noted = True
    return dicts
