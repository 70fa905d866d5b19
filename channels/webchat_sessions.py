"""Web chat session ids that only the dealership issues (the gateway, or Rasa for a stale one).

A session id is a random nonce followed by its HMAC-SHA256 (truncated to 128 bits) under the key
``DA_WEBCHAT_SESSION_KEY``, which the launcher generates once into ``var/`` and hands to Rasa and
the gateway. The id is the conversation's sender id and the socket.io room its replies go to, so
an id that was not issued to a browser can neither join someone's conversation nor write to it.

Standard library only: the gateway checks its issued ids against this module in the tests
(``bot/gateway/webchat_sessions.py`` issues them the same way).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Mapping
from typing import Final, TypeGuard

logger = logging.getLogger(__name__)

KEY_VARIABLE: Final = "DA_WEBCHAT_SESSION_KEY"
# Domain separation: the same key signs nothing else.
PURPOSE: Final = b"dealer-assistant web chat session\x00"
NONCE_HEX: Final = 32
MAC_HEX: Final = 32
SESSION_ID: Final = re.compile(rf"[0-9a-f]{{{NONCE_HEX + MAC_HEX}}}")


class SessionSigner:
    """Issues and verifies web chat session ids under one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError(f"{KEY_VARIABLE} must be at least 16 bytes long")
        self._key = key

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SessionSigner:
        """The key the launcher gives Rasa; without one, a key that lasts while Rasa runs."""
        value = (os.environ if environ is None else environ).get(KEY_VARIABLE, "").strip()
        if value:
            return cls(value.encode("utf-8"))
        logger.warning(
            "%s is not set: web chat sessions are signed with a key that lasts until Rasa "
            "restarts (the gateway's session ids are replaced by fresh ones)",
            KEY_VARIABLE,
        )
        return cls(secrets.token_bytes(32))

    def _mac(self, nonce: str) -> str:
        digest = hmac.new(self._key, PURPOSE + nonce.encode("ascii"), hashlib.sha256).hexdigest()
        return digest[:MAC_HEX]

    def issue(self) -> str:
        """A fresh, unguessable session id signed with the key."""
        nonce = secrets.token_hex(NONCE_HEX // 2)
        return nonce + self._mac(nonce)

    def valid(self, session_id: object) -> TypeGuard[str]:
        """Whether ``session_id`` was issued under this key (anything else is refused)."""
        if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
            return False
        nonce, mac = session_id[:NONCE_HEX], session_id[NONCE_HEX:]
        return hmac.compare_digest(mac, self._mac(nonce))
