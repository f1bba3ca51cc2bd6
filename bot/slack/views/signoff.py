"""The sign-off card (a button pair per required role, replaced by the decision once made) and the
modal that asks a rejecting lead for the reason."""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from bot.signoff.service import SignoffRequest
from bot.slack.ids import (
    ACTION_SIGNOFF_APPROVE,
    ACTION_SIGNOFF_REJECT,
    ACTION_SIGNOFF_WITHDRAW,
    REJECT_REASON_BLOCK,
    REJECT_REASON_INPUT,
    VIEW_SIGNOFF_REJECT,
)
from bot.slack.views.blocks import (
    SlackMessage,
    actions,
    button,
    clip,
    context,
    esc,
    header,
    page_link,
    section,
    user,
    when,
)
from bot.store import MessageRef
from checks.spec import SignoffStage


def button_value(request_id: str, role: str) -> str:
    return f"{request_id}:{role}"


def parse_button_value(value: str) -> tuple[str, str]:
    request_id, _, role = (value or "").partition(":")
    return request_id, role


def signoff_card(request: SignoffRequest, stage: SignoffStage) -> SlackMessage:
    title = stage.title or request.stage
    blocks = [
        header(f"Sign-off: {title}"),
        context(f"`{esc(request.stage)}` requested by {user(request.requested_by)} {when(request.created_at)} · "
                f"request `{esc(request.id)}`"),
    ]
    approved, rejected, waiting = [], [], []
    for role in stage.roles:
        decision = request.decisions.get(role.id)
        value = button_value(request.id, role.id)
        if decision is None:
            waiting.append(role.title)
            blocks.append(section(f"⏳ *{esc(role.title)}* — waiting"))
            blocks.append(actions(button("Approve", ACTION_SIGNOFF_APPROVE, value, "primary"),
                                  button("Reject", ACTION_SIGNOFF_REJECT, value, "danger"),
                                  block_id=f"signoff:{role.id}"))
        elif decision.decision == "approve":
            approved.append(role.title)
            blocks.append(section(f"✅ *{esc(role.title)}* — approved by {user(decision.user_id)} "
                                  f"{when(decision.decided_at)}"))
            blocks.append(actions(button("Withdraw approval", ACTION_SIGNOFF_WITHDRAW, value),
                                  block_id=f"signoff:{role.id}"))
        else:
            rejected.append(role.title)
            blocks.append(section(f"❌ *{esc(role.title)}* — rejected by {user(decision.user_id)} "
                                  f"{when(decision.decided_at)}\n> {esc(clip(decision.reason, 1500))}"))
            blocks.append(actions(button("Withdraw reject", ACTION_SIGNOFF_WITHDRAW, value),
                                  block_id=f"signoff:{role.id}"))
    if rejected:
        summary = f"🔴 Go is blocked: {esc(', '.join(rejected))} rejected (withdraw the reject once resolved)."
    elif waiting:
        summary = f"Waiting for: {esc(', '.join(waiting))}."
    else:
        summary = "🟢 Every required role has approved."
    blocks.append(section(f"{len(approved)}/{len(stage.roles)} approved. {summary}"))
    if page := page_link("signoff", request.id, "Open the sign-off page"):  # who decided what and when
        blocks.append(context(page))
    text = (f"Sign-off {title}: {len(approved)}/{len(stage.roles)} approved"
            + (f", rejected by {', '.join(rejected)}" if rejected else "")
            + (f", waiting for {', '.join(waiting)}" if waiting else ""))
    return SlackMessage(text=esc(text), blocks=blocks)


def moved_card(request: SignoffRequest, stage: SignoffStage, current: MessageRef) -> SlackMessage:
    """What an older card of the same request becomes once a newer one is posted: a pointer, no buttons."""
    title = stage.title or request.stage
    link = f"https://slack.com/archives/{current.channel}/p{current.ts.replace('.', '')}"
    text = f"This sign-off card for {title} moved: the current card is <{link}|here>. Decisions made so far are kept."
    return SlackMessage(text=f"Sign-off {esc(title)}: this card moved to a newer one",
                        blocks=[header(f"Sign-off: {title}"), section(f"➡️ {text}"),
                                context(f"request `{esc(request.id)}`")])


def reject_modal(*, role_title: str, stage_title: str, private_metadata: str) -> View:
    """The reason is required: a reject blocks Go, and whoever withdraws it needs to know why."""
    view = View(
        type="modal",
        callback_id=VIEW_SIGNOFF_REJECT,
        title=PlainTextObject(text="Reject sign-off"),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=private_metadata,
        blocks=[
            section(f"Rejecting *{esc(role_title)}* for *{esc(stage_title)}*. Go stays blocked until the reject "
                    f"is withdrawn."),
            InputBlock(block_id=REJECT_REASON_BLOCK, label=PlainTextObject(text="Reason"),
                       element=PlainTextInputElement(action_id=REJECT_REASON_INPUT, multiline=True, min_length=3,
                                                     max_length=2000)),
        ],
    )
    view.validate_json()
    return view
