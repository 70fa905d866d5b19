"""Web chat session ids issued by the gateway (``GET /session``) for the page's chat widget.

The same format as ``channels/webchat_sessions.py``, which Rasa's socket.io channel checks with
the same key (``DA_WEBCHAT_SESSION_KEY``): a random nonce followed by its HMAC-SHA256, truncated
to 128 bits. Rasa code imports nothing from the app, so the few lines live on both sides; the
tests check that each side accepts what the other issues.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Final

PURPOSE: Final = b"dealer-assistant web chat session\x00"
NONCE_HEX: Final = 32
MAC_HEX: Final = 32
SESSION_ID: Final = re.compile(rf"[0-9a-f]{{{NONCE_HEX + MAC_HEX}}}")


def _mac(key: bytes, nonce: str) -> str:
    return hmac.new(key, PURPOSE + nonce.encode("ascii"), hashlib.sha256).hexdigest()[:MAC_HEX]


def issue(key: bytes) -> str:
    """A fresh, unguessable session id signed with ``key``."""
    nonce = secrets.token_hex(NONCE_HEX // 2)
    return nonce + _mac(key, nonce)


def valid(key: bytes, session_id: object) -> bool:
    """Whether ``session_id`` was issued under ``key``."""
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        return False
    return hmac.compare_digest(session_id[NONCE_HEX:], _mac(key, session_id[:NONCE_HEX]))
