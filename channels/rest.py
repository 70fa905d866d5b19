"""Rasa's REST channel with a token whenever Rasa listens beyond loopback, and per-sender limits.

``POST /webhooks/rest/webhook`` as Rasa serves it. When the launcher gives Rasa ``DA_REST_TOKEN``
(it does whenever Rasa listens beyond loopback), every POST must carry
``Authorization: Bearer <token>``; anything else is answered 401 and never reaches Rasa. The token
is never taken from the URL: URLs end up in logs. The health check (``GET /webhooks/rest/``) and
CORS pre-flights stay open; they carry no message.
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Any, Final

from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.handoff import ConsultantGate
from channels.limits import DEFAULT_PER_MINUTE, OnNewMessage, SenderLimiter

logger = logging.getLogger(__name__)

TOKEN_VARIABLE: Final = "DA_REST_TOKEN"  # noqa: S105 (the variable's name, not a secret)
# Requests that carry no message: the health check and browsers' CORS pre-flights.
_OPEN_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class GuardedRestInput(RestInput):
    """The REST channel under its Rasa name ("rest"): same URLs, same recorded input channel."""

    @classmethod
    def name(cls) -> str:
        """Rasa's name of the channel: the URL prefix ``/webhooks/rest`` and the tracker's."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedRestInput:
        """The token and allowance from Rasa's environment (no secret in the credentials file)."""
        return cls(
            token=os.environ.get(TOKEN_VARIABLE) or None,
            limiter=SenderLimiter.from_environment(),
            gate=ConsultantGate.from_environment(),
        )

    def __init__(
        self,
        token: str | None = None,
        limiter: SenderLimiter | None = None,
        gate: ConsultantGate | None = None,
    ) -> None:
        """``token``: required on every message when set; ``limiter``: the per-sender allowance;
        ``gate``: who answers a conversation a consultant handles."""
        self.token = token
        self.limiter = limiter or SenderLimiter.per_minute(DEFAULT_PER_MINUTE)
        self.gate = gate or ConsultantGate()

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """Rasa's REST routes, with the message callback limited and, with a token, guarded."""
        blueprint: Blueprint = super().blueprint(
            self.limiter.guard(self.gate.guard(on_new_message, "rest"), self.name())
        )
        if self.token is not None:
            expected = self.token.encode("utf-8")

            async def require_token(request: Request) -> HTTPResponse | None:
                if request.method in _OPEN_METHODS or _bearer_matches(request, expected):
                    return None
                logger.info("REST channel: a request without the right token was refused")
                return response.json(
                    {
                        "error": "unauthorized",
                        "message": "This channel needs the header 'Authorization: Bearer <token>'.",
                    },
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="rest"'},
                )

            # Blueprint middleware runs for this blueprint's routes only.
            blueprint.middleware(require_token, "request")
        return blueprint


def _bearer_matches(request: Request, expected: bytes) -> bool:
    """Whether the request's ``Authorization`` header is ``Bearer <expected>`` (constant time)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), expected)
