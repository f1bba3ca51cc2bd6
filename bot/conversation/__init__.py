"""One conversation layer for every chat transport.

A transport (Slack, Teams, the in-memory one the tests use) implements `Conversation`: post, update,
reply in a thread, a private notice, and the message references it needs to find a message again. Written
once on top of it: the run follower, the recovery sweep, the event router, redelivery dedupe, background
task tracking, per-channel pacing and retries. Nothing here imports a transport.
"""

from bot.conversation.base import Conversation, DeliveryError, Transport
from bot.conversation.views import (
    AlertClosed,
    EvidenceReply,
    RunFinal,
    RunInterrupted,
    RunProgress,
)

__all__ = ["AlertClosed", "Conversation", "DeliveryError", "EvidenceReply", "RunFinal", "RunInterrupted",
           "RunProgress", "Transport"]
