"""The gateway's internal routes (``/internal/...``) answer only Rasa's channels, which show the
shared relay token (``Settings.effective_relay_token``)."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from crm_bridge.settings import Settings


def from_rasa(request: Request) -> bool:
    """Whether the request carries the relay token (compared in constant time)."""
    settings: Settings = request.app.state.settings
    expected = f"Bearer {settings.effective_relay_token()}".encode()
    return hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected)
