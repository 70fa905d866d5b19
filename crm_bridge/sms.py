"""Text messages through the provider's REST API (Twilio Messages; the base URL is configurable,
so tests and a self-hosted gateway can stand in for it).

Only connection failures are retried: a request the provider may have received is never sent
twice, since that would send the customer the same text twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from crm_bridge.settings import Settings

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The provider did not accept the message."""


@dataclass(frozen=True)
class TwilioSms:
    """Sends texts from the dealership's number (``TWILIO_FROM_NUMBER``)."""

    base_url: str
    account_sid: str
    auth_token: str
    from_number: str
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioSms | None:
        """The sender when the provider is configured, else None (codes cannot be sent)."""
        if not settings.sms_configured:
            return None
        return cls(
            settings.twilio_api_base_url.rstrip("/"),
            settings.twilio_account_sid or "",
            settings.twilio_auth_token or "",
            settings.twilio_from_number or "",
        )

    async def send(self, to: str, body: str) -> str:
        """Send ``body`` to ``to`` (E.164); returns the provider's message id."""
        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        transport = httpx.AsyncHTTPTransport(retries=2)  # connection failures only
        async with httpx.AsyncClient(transport=transport, timeout=self.timeout_s) as client:
            try:
                response = await client.post(
                    url,
                    data={"To": to, "From": self.from_number, "Body": body},
                    auth=(self.account_sid, self.auth_token),
                )
            except httpx.HTTPError as error:
                raise SmsError(f"provider unreachable: {type(error).__name__}") from error
        if response.status_code != 201:
            code = _error_code(response)
            logger.warning("SMS refused: HTTP %s, provider code %s", response.status_code, code)
            raise SmsError(f"provider refused the message (HTTP {response.status_code})")
        sid = response.json().get("sid")
        return str(sid)


def _error_code(response: httpx.Response) -> object:
    try:
        return response.json().get("code")
    except ValueError:
        return None
