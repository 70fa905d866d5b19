"""How code inside Rasa reaches the gateway's internal routes (``DA_GATEWAY_URL``, with the shared
``DA_RELAY_TOKEN``): one connection pool, made on first use inside Rasa's event loop and kept for
the life of the process; a gateway not configured, down or slow answers None."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Final

import aiohttp

logger = logging.getLogger(__name__)

GATEWAY_VARIABLE: Final = "DA_GATEWAY_URL"
TOKEN_VARIABLE: Final = "DA_RELAY_TOKEN"  # noqa: S105 - a variable name
TIMEOUT: Final = aiohttp.ClientTimeout(total=5)


class GatewayClient:
    """POSTs JSON to the gateway's internal routes with the relay token."""

    def __init__(self, gateway_url: str | None, token: str | None) -> None:
        self.base = gateway_url.rstrip("/") if gateway_url and token else None
        self.token = token or ""
        self._http: aiohttp.ClientSession | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> GatewayClient:
        env = os.environ if environ is None else environ
        return cls(env.get(GATEWAY_VARIABLE) or None, env.get(TOKEN_VARIABLE) or None)

    @property
    def configured(self) -> bool:
        return self.base is not None

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """The gateway's JSON answer; None when it answered anything but 200. Raises
        ``aiohttp.ClientError``, ``TimeoutError`` or ``ValueError`` when it could not be asked."""
        if self.base is None:
            return None
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=TIMEOUT)
        async with self._http.post(
            f"{self.base}{path}", json=body, headers={"Authorization": f"Bearer {self.token}"}
        ) as response:
            if response.status != 200:
                logger.warning("the gateway answered %d on %s", response.status, path)
                return None
            return await response.json()
