"""Per-sender rate limits of the input channels (the ``limits`` library: moving window, in memory).

A sender may send ``DA_SENDER_MESSAGES_PER_MINUTE`` messages (``SENDER_MESSAGES_PER_MINUTE`` in the
app's settings; default 20) in any 60 seconds and, so that the minute's allowance is not spent in
one burst, half of it (rounded up) in any 10 seconds. A message over the allowance never reaches
Rasa: the sender is asked, in both languages and through the message's own output channel, to slow
down. The counts are kept per channel and per Rasa process, and start afresh when Rasa restarts.

Reminders from the scheduler reach Rasa through its HTTP API (``/conversations/{id}/execute``),
not through a channel, so they are never limited.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from rasa.core.channels.channel import UserMessage

logger = logging.getLogger(__name__)

ALLOWANCE_VARIABLE: Final = "DA_SENDER_MESSAGES_PER_MINUTE"
DEFAULT_PER_MINUTE: Final = 20
BURST_SECONDS: Final = 10
SLOW_DOWN: Final = (
    "您发送得太快了，请稍等片刻再发。 / "
    "You're sending messages a little fast — please wait a moment and try again."
)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# A sender over its allowance is logged once a minute, not once a refused message.
_NOTICE: Final = RateLimitItemPerMinute(1, namespace="NOTICE")


class SenderLimiter:
    """Moving-window allowances per sender id; a message counts only when all of them admit it."""

    def __init__(self, *allowances: RateLimitItem) -> None:
        if not allowances:
            raise ValueError("a sender limiter needs at least one allowance")
        self.allowances = allowances
        # The strategy holds only a weak reference to its storage: the limiter keeps it alive.
        self._storage = MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self._storage)

    @classmethod
    def per_minute(cls, messages: int) -> SenderLimiter:
        """``messages`` in any minute, and half of them (rounded up) in any ten seconds."""
        if messages < 1:
            raise ValueError(f"{ALLOWANCE_VARIABLE} must be at least 1, not {messages}")
        burst = math.ceil(messages / 2)
        return cls(RateLimitItemPerMinute(messages), RateLimitItemPerSecond(burst, BURST_SECONDS))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SenderLimiter:
        """The allowance that the launcher gives Rasa in ``DA_SENDER_MESSAGES_PER_MINUTE``."""
        value = (os.environ if environ is None else environ).get(ALLOWANCE_VARIABLE, "").strip()
        try:
            messages = int(value) if value else DEFAULT_PER_MINUTE
        except ValueError:
            message = f"{ALLOWANCE_VARIABLE} must be a whole number, not {value!r}"
            raise ValueError(message) from None
        return cls.per_minute(messages)

    def allow(self, sender_id: str) -> bool:
        """Whether ``sender_id`` may send a message now; an admitted message is counted."""
        if not all(self._strategy.test(item, sender_id) for item in self.allowances):
            return False
        # No await since the test: nothing else ran in between on this event loop.
        for item in self.allowances:
            self._strategy.hit(item, sender_id)
        return True

    def guard(self, on_new_message: OnNewMessage, channel: str) -> OnNewMessage:
        """``on_new_message`` for senders within their allowance; the others get ``SLOW_DOWN``.

        ``channel`` names the channel in the log (not the message's, which a REST caller sets).
        """

        async def guarded(message: UserMessage) -> Any:
            if self.allow(message.sender_id):
                return await on_new_message(message)
            if self._strategy.hit(_NOTICE, message.sender_id):
                # No sender id in the log: it may be personal data.
                logger.warning(
                    "a sender on the %s channel is over its allowance; asked to slow down", channel
                )
            await message.output_channel.send_text_message(message.sender_id, SLOW_DOWN)
            return None

        return guarded
