"""Every identifier the Teams side agrees on: card verbs and input ids (cards render them, the receiver
routes on them), the messaging endpoint, and the store keys. One place, so they cannot drift."""

from __future__ import annotations

TRANSPORT = "teams"
CHANNEL_ID = "msteams"
MESSAGES_PATH = "/api/messages"

CARD_VERSION = "1.5"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"

VERB_PREFIX = "golive."
VERB_SIGNOFF = "golive.signoff"  # data: request, role, decision (approve|reject|withdraw); input `reason`
VERB_ROLLOUT = "golive.rollout"  # data: action (rollback|keep_going), phase
VERB_CONFIRM = "golive.confirm"  # data: run, check (a check that needs a person's confirmation)
REASON_INPUT = "reason"

REFERENCE_KEY = "teams:ref:{conversation}"
USER_NAME_KEY = "teams:user:{user}"
