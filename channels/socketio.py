"""Rasa's socket.io channel (the web chat) with per-sender limits.

A web chat session over its allowance gets the request to slow down as a bot message; its extra
messages never reach Rasa. Everything else is Rasa's channel as configured in ``credentials.yml``.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from channels.handoff import ConsultantGate
from channels.limits import DEFAULT_PER_MINUTE, OnNewMessage, SenderLimiter


class LimitedSocketIOInput(SocketIOInput):
    """The socket.io channel under its Rasa name ("socketio"): same path, same recorded channel."""

    @classmethod
    def name(cls) -> str:
        """Rasa's name of the channel, recorded in the tracker."""
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> LimitedSocketIOInput:
        """Rasa's socket.io settings from the credentials; the allowance from the environment."""
        channel: LimitedSocketIOInput = super().from_credentials(credentials)
        channel.limiter = SenderLimiter.from_environment()
        channel.gate = ConsultantGate.from_environment()
        return channel

    def __init__(self, *args: Any, limiter: SenderLimiter | None = None, **kwargs: Any) -> None:
        """Rasa's socket.io settings (``args``, ``kwargs``) and the per-sender allowance."""
        super().__init__(*args, **kwargs)
        self.limiter = limiter or SenderLimiter.per_minute(DEFAULT_PER_MINUTE)
        self.gate = ConsultantGate(None, None)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Rasa's socket.io server, with the message callback limited per sender."""
        blueprint: Blueprint = super().blueprint(
            self.limiter.guard(self.gate.guard(on_new_message, "web"), self.name())
        )
        return blueprint
