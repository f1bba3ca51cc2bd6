"""Adaptive Card building blocks. Cards are plain dicts (the SDK has no card model), so these helpers
are the one place that knows the element shapes; everything they emit validates against the 1.5 schema."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from microsoft_agents.activity import Activity, ActivityTypes, Attachment, ContentTypes

from bot.services.desk import service_tag
from bot.teams.ids import CARD_SCHEMA, CARD_VERSION, VERB_PREFIX
from checks.masking import masker

Card = dict[str, Any]
Element = dict[str, Any]
Action = dict[str, Any]
Color = Literal["default", "dark", "light", "accent", "good", "warning", "attention"]
Style = Literal["default", "emphasis", "good", "attention", "warning", "accent"]

MAX_TEXT = 1500
"""Teams truncates long cards badly (and rejects those over ~28 KB); long evidence is cut here."""

MAX_CARD_BYTES = 26_000
"""Teams refuses a message over ~28 KB (413 MessageSizeTooBig); the card gets this much (its JSON, every
non-ASCII character counted escaped) and the activity around it the rest."""
MIN_TRIMMED_TEXT = 120


def card(body: Sequence[Element], actions: Sequence[Action] = (), *, fallback: str,
         run_id: str | None = None) -> Card:
    """A top-level card: version 1.5, full width in Teams, every string masked on the way out, and never
    over MAX_CARD_BYTES: evidence is trimmed, pointing at `golive status --run <id>` for the rest."""
    out: Card = {"type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": CARD_VERSION,
                 "fallbackText": clip(fallback, 300), "body": list(body)}
    if actions:
        out["actions"] = list(actions)
    out["msteams"] = {"width": "Full"}
    return fit(masker.scrub_data(out), run_id=run_id)  # our text, built from results masked at the source


def card_bytes(content: Card) -> int:
    return len(json.dumps(content, separators=(",", ":")))


def page_link(kind: Any, object_id: str | None, label: str) -> str | None:
    """A markdown link to the object's page in the web view (bot.web), or None without GOLIVE_PUBLIC_URL."""
    from bot.web.links import link

    url = link(kind, object_id)
    return f"[{label}]({url})" if url else None


def trimmed_note(run_id: str | None) -> str:
    if run_id and (page := page_link("run", run_id, "open the run's page")):
        return f"… (full evidence: {page})"
    return f"… (full evidence: `golive status --run {run_id}`)" if run_id else "… (more in `golive status`)"


def fit(content: Card, *, run_id: str | None = None, limit: int | None = None) -> Card:
    """Shrink a card over `limit`: halve its longest texts (TextBlocks, fact values) while any is long,
    then drop body elements from the end; a note at the end says where the full evidence is. Buttons,
    their data and the headline are never touched."""
    limit = MAX_CARD_BYTES if limit is None else limit
    if card_bytes(content) <= limit:
        return content
    note = text(trimmed_note(run_id), subtle=True, separator=True)
    body: list[Element] = content["body"]
    body.append(note)
    while card_bytes(content) > limit:
        slots = sorted(_texts(body[1:-1]), key=lambda slot: len(slot[0][slot[1]]), reverse=True)
        if slots and len(slots[0][0][slots[0][1]]) > MIN_TRIMMED_TEXT:
            holder, key = slots[0]
            value = holder[key]
            holder[key] = value[: max(MIN_TRIMMED_TEXT, len(value) // 2) - 1].rstrip() + "…"
            continue
        if len(body) <= 2:
            break
        body.pop(-2)
    return content


def _texts(elements: Any) -> Iterable[tuple[dict[str, Any], str]]:
    """Every trimmable text slot (holder, key) in card elements: TextBlock texts and FactSet values."""
    if isinstance(elements, list):
        for element in elements:
            yield from _texts(element)
    elif isinstance(elements, dict):
        kind = elements.get("type")
        if kind == "TextBlock" and isinstance(elements.get("text"), str):
            yield elements, "text"
        elif kind == "FactSet":
            for fact in elements.get("facts", []):
                yield fact, "value"
        elif kind in ("Container", "Column"):
            yield from _texts(elements.get("items", []))
        elif kind == "ColumnSet":
            yield from _texts(elements.get("columns", []))


def text(value: str, *, size: str | None = None, weight: str | None = None, color: Color | None = None,
         subtle: bool = False, separator: bool = False, spacing: str | None = None) -> Element:
    block: Element = {"type": "TextBlock", "text": clip(value), "wrap": True}
    if size:
        block["size"] = size
    if weight:
        block["weight"] = weight
    if color:
        block["color"] = color
    if subtle:
        block["isSubtle"] = True
    if separator:
        block["separator"] = True
    if spacing:
        block["spacing"] = spacing
    return block


def plain(value: str, *, subtle: bool = False) -> Element:
    """Text shown exactly as typed (a person's reason): a RichTextBlock's TextRun is never read as
    Markdown, where a TextBlock would turn `**x**`, `[a](b)` or `- x` into formatting or a link."""
    run: Element = {"type": "TextRun", "text": clip(value)}
    if subtle:
        run["isSubtle"] = True
    return {"type": "RichTextBlock", "inlines": [run]}


def monospace(value: str) -> list[Element]:
    """Preformatted text (a chart): one monospace line per TextBlock, since Teams folds newlines in one."""
    return [{"type": "TextBlock", "text": clip(line) or " ", "fontType": "Monospace", "wrap": False,
             "spacing": "None", "size": "Small"} for line in value.splitlines()]


def heading(value: str, color: Color | None = None) -> Element:
    return text(value, size="Large", weight="Bolder", color=color)


def facts(pairs: Iterable[tuple[str, str]]) -> Element:
    return {"type": "FactSet", "facts": [{"title": clip(t, 200), "value": clip(v)} for t, v in pairs]}


def bullets(items: Iterable[str], *, limit: int = 15) -> list[Element]:
    """A list as TextBlocks; past `limit` items one line says how many more there are."""
    items = list(items)
    blocks = [text(f"- {item}", spacing="None") for item in items[:limit]]
    if len(items) > limit:
        blocks.append(text(f"… and {len(items) - limit} more", subtle=True, spacing="None"))
    return blocks


def container(items: Sequence[Element], *, style: Style | None = None, separator: bool = False) -> Element:
    box: Element = {"type": "Container", "items": list(items)}
    if style:
        box["style"] = style
    if separator:
        box["separator"] = True
    return box


def columns(*cols: tuple[Sequence[Element], str]) -> Element:
    """A ColumnSet from (items, width) pairs; width is "auto", "stretch" or a weight like "2"."""
    return {"type": "ColumnSet", "columns": [{"type": "Column", "width": width, "items": list(items)}
                                             for items, width in cols]}


def execute(title: str, verb: str, data: Mapping[str, Any], *,
            style: Literal["default", "positive", "destructive"] | None = None) -> Action:
    """An Action.Execute (Universal Actions: an invoke the bot answers with the updated card), falling back
    to an Action.Submit with the verb in its data for hosts older than 1.4."""
    assert verb.startswith(VERB_PREFIX)
    if (service := service_tag()) is not None:  # drawn for one of several services: its click goes there
        data = {**data, "service": service}
    action: Action = {"type": "Action.Execute", "title": title, "verb": verb, "data": dict(data),
                      "fallback": {"type": "Action.Submit", "title": title, "data": {"verb": verb, **data}}}
    if style:
        action["style"] = style
        action["fallback"]["style"] = style
    return action


def show_card(title: str, body: Sequence[Element], actions: Sequence[Action]) -> Action:
    """A button that unfolds a sub-card (e.g. a reject reason input with its own submit)."""
    return {"type": "Action.ShowCard", "title": title,
            "card": {"type": "AdaptiveCard", "body": list(body), "actions": list(actions)}}


def action_set(actions: Sequence[Action]) -> Element:
    return {"type": "ActionSet", "actions": list(actions)}


def text_input(input_id: str, label: str, placeholder: str = "", *, required: bool = True) -> Element:
    return {"type": "Input.Text", "id": input_id, "label": label, "placeholder": placeholder,
            "isMultiline": True, "maxLength": 500, "isRequired": required,
            "errorMessage": f"{label} is required"}


def clip(value: str, limit: int = MAX_TEXT) -> str:
    value = str(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def attachment(content: Card) -> Attachment:
    return Attachment(content_type=ContentTypes.adaptive_card, content=content)


def card_message(content: Card, *, activity_id: str | None = None) -> Activity:
    """A message activity carrying one card; `activity_id` makes it an update of an earlier message."""
    activity = Activity(type=ActivityTypes.message, attachments=[attachment(content)],
                        summary=content.get("fallbackText") or None)
    if activity_id:
        activity.id = activity_id
    return activity
