"""A run's card, updated in place as its checks finish (Teams' equivalent of Slack's live progress line).

Updates are throttled to one per `interval` seconds; the final card always lands. If the card cannot be
updated (no message id, or the update fails) the final card is posted as a new message instead.
"""

from __future__ import annotations

import asyncio
import logging
import time

from microsoft_agents.hosting.core import TurnContext

from bot.store import RunRecord
from bot.teams import cards
from bot.teams.cardkit import Card, card_message
from checks.masking import mask
from checks.result import CheckResult

log = logging.getLogger("golive.teams")


class LiveCard:
    def __init__(self, context: TurnContext, activity_id: str | None, names: cards.Names, *,
                 interval: float = 1.2) -> None:
        self.context = context
        self.activity_id = activity_id
        self.names = names
        self.interval = interval
        self.results: list[CheckResult] = []
        self._last = 0.0

    async def on_result(self, run: RunRecord, result: CheckResult, finished: int, total: int) -> None:
        self.results.append(result)
        now = time.monotonic()
        if self.activity_id and now - self._last >= self.interval:
            self._last = now
            card = await asyncio.to_thread(cards.run_progress_card, run, list(self.results), total, self.names)
            await self._update(card)

    async def finish(self, card: Card) -> None:
        if not (self.activity_id and await self._update(card)):
            await self.context.send_activity(card_message(card))

    async def _update(self, card: Card) -> bool:
        try:
            await self.context.update_activity(card_message(card, activity_id=self.activity_id))
            return True
        except Exception as exc:  # a deleted message or a flaky connector must not stop the run
            log.warning("could not update the run card %s: %s", self.activity_id, mask(str(exc)))
            return False
