"""Rasa's socket.io channel (the web chat) with signed session ids and per-sender limits.

A web chat session id is the conversation's sender id and the room its replies go to, so only ids
the dealership issued are accepted (``channels/webchat_sessions.py``): the gateway hands one to
the page (``GET /session``), and a ``session_request`` with a missing, forged or stale id is
confirmed with a fresh signed one instead. A message is accepted only on the session id its socket
was confirmed: anything else never reaches Rasa, and the sender is told to reload the page.

A web chat session over its allowance gets the request to slow down as a bot message; its extra
messages never reach Rasa. Everything else is Rasa's channel as configured in ``credentials.yml``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from channels.handoff import ConsultantGate
from channels.limits import DEFAULT_PER_MINUTE, OnNewMessage, SenderLimiter
from channels.webchat_sessions import SessionSigner

logger = logging.getLogger(__name__)

SESSION_REFUSED: Final = (
    "这个聊天会话无效或已过期，请刷新页面后再试。 / "
    "This chat session is not valid or has expired — please reload the page and try again."
)

Handler = Callable[..., Awaitable[Any]]


class LimitedSocketIOInput(SocketIOInput):
    """The socket.io channel under its Rasa name ("socketio"): same path, same recorded channel."""

    @classmethod
    def name(cls) -> str:
        """Rasa's name of the channel, recorded in the tracker."""
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> LimitedSocketIOInput:
        """Rasa's socket.io settings from the credentials; allowance, key from the environment."""
        channel: LimitedSocketIOInput = super().from_credentials(credentials)
        channel.limiter = SenderLimiter.from_environment()
        channel.gate = ConsultantGate.from_environment()
        channel.signer = SessionSigner.from_environment()
        return channel

    def __init__(
        self,
        *args: Any,
        limiter: SenderLimiter | None = None,
        signer: SessionSigner | None = None,
        **kwargs: Any,
    ) -> None:
        """Rasa's socket.io settings (``args``, ``kwargs``), the allowance and the session key."""
        super().__init__(*args, **kwargs)
        self.limiter = limiter or SenderLimiter.per_minute(DEFAULT_PER_MINUTE)
        self.gate = ConsultantGate()
        self.signer = signer or SessionSigner.from_environment()
        # socket id -> the session id it was confirmed (the only one it may send messages on)
        self.confirmed: dict[str, str] = {}

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Rasa's socket.io server, with signed sessions and the message callback limited."""
        blueprint: Blueprint = super().blueprint(
            self.limiter.guard(self.gate.guard(on_new_message, "web"), self.name())
        )
        sio = self.sio
        assert sio is not None  # set by Rasa's blueprint
        namespace = self.namespace or "/"
        handlers: dict[str, Handler] = sio.handlers[namespace]
        rasa_message: Handler = handlers[self.user_message_evt]
        rasa_disconnect: Handler = handlers["disconnect"]

        async def session_request(sid: str, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = requested if self.signer.valid(requested) else self.signer.issue()
            if requested and session_id != requested:
                # No id in the log: a forged one may be anything.
                logger.info("a web chat session id that was not issued here was replaced")
            self.confirmed[sid] = session_id
            if self.session_persistence:
                await _maybe_await(sio.enter_room(sid, session_id, namespace=namespace))
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        async def handle_message(sid: str, data: Any) -> None:
            if self.session_persistence:
                session_id = data.get("session_id") if isinstance(data, dict) else None
                if not (self.signer.valid(session_id) and self.confirmed.get(sid) == session_id):
                    logger.warning("a web chat message on an unconfirmed session id was refused")
                    await sio.emit(
                        self.bot_message_evt,
                        {"text": SESSION_REFUSED},
                        room=sid,
                        namespace=namespace,
                    )
                    return
            await rasa_message(sid, data)

        async def disconnect(sid: str) -> None:
            self.confirmed.pop(sid, None)
            await rasa_disconnect(sid)

        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        sio.on("disconnect", disconnect, namespace=self.namespace)
        return blueprint


async def _maybe_await(result: Any) -> None:
    """``enter_room`` is a plain call in python-socketio 5.9 and a coroutine in later ones."""
    if isinstance(result, Awaitable):
        await result
