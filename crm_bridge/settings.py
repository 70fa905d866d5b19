"""Configuration read from the environment or a ``.env`` file (names are part of the contract)."""

from __future__ import annotations

import os
import secrets
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_bridge.types import known_timezone

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Every setting of the product, with the embedded defaults of ``make run``."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    var_dir: Path = Field(default=PROJECT_ROOT / "var", description="runtime data folder")
    database_url: str | None = None
    tracker_store_url: str | None = None
    redis_url: str | None = None
    rabbitmq_url: str | None = None
    rasa_token: str | None = None
    # Shared secret of Rasa and the action server (Authorization: Bearer); generated into var/.
    actions_token: str | None = None
    # Where the action server listens; only Rasa calls it, so loopback unless set otherwise.
    actions_host: str = "127.0.0.1"
    rasa_port: int = 5005
    rasa_url: str | None = None  # where the scheduler reaches Rasa; default: localhost:RASA_PORT
    actions_port: int = 5055
    gateway_port: int = 8080
    # Where customers' browsers reach the gateway (relayed photos); default: localhost.
    gateway_public_url: str | None = None
    dealer_timezone: str = "Asia/Shanghai"
    dealer_data: Path | None = None
    dealer_name: str = "星辰奥迪"
    dealer_name_en: str = "Xingchen Audi"
    telegram_bot_token: str | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_sales_chat_id: int | None = None
    # The bot's @username, for personal survey links (t.me/<bot>?start=...); unset: asked of
    # the Bot API (getMe) when a link is printed.
    telegram_bot_username: str | None = None
    # Minutes of opening hours a lead card may wait for a claim before the managers are told.
    handoff_claim_minutes: int = Field(default=10, ge=1)
    # Minutes a consultant has to answer a claimed customer: reminded once, then escalated.
    handoff_reply_minutes: int = Field(default=10, ge=1)
    twilio_auth_token: str | None = None
    # The phone channel (channels/phone.py, in Rasa): the base URL the voice provider calls (its
    # signatures cover it; a proxy changes host and scheme), and the language a call starts in.
    phone_public_url: str | None = None
    phone_language: Literal["zh", "en"] = "zh"
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_from_number: str | None = None  # caller id and SMS sender; unset: no SMS
    # The REST channel's token (Authorization: Bearer). Required whenever Rasa listens beyond
    # loopback: the configured one, else one generated once into var/.
    rest_token: str | None = None
    # Messages one sender may send in a minute before the assistant asks them to slow down.
    sender_messages_per_minute: int = Field(default=20, ge=1)
    # Active (upcoming) test-drive bookings one customer or conversation may hold.
    max_active_bookings: int = Field(default=2, ge=1)
    # Key of the erasure tombstones (a keyed hash of an erased number); generated into var/.
    erasure_key: str | None = None
    # The revisit surveys: offsets, questions and wording (validated at start-up); default: the
    # file in the repository, config/surveys.yml.
    survey_config: Path | None = None
    # No proactive message (survey, reminder, nudge) to a customer between these times in the
    # dealer's time zone; what falls due then goes out at the end of the quiet hours.
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(9, 0)
    # Days to the next follow-up of an open lead by level (FOLLOW_UP_DAYS='{"H":1,...}').
    follow_up_days: dict[str, int] = Field(
        default_factory=lambda: {"H": 1, "A": 3, "B": 7, "C": 14}
    )
    # Hours a follow-up may be overdue before the managers are told.
    follow_up_overdue_hours: int = Field(default=24, ge=1)
    # Hours a complaint ticket may stay open (not in progress) before it is escalated again.
    ticket_escalate_hours: int = Field(default=4, ge=1)
    # Hours after which a conversation left in the middle of a question gets its one nudge.
    nudge_after_hours: int = Field(default=18, ge=1)
    model_cache_dir: Path = Field(default=Path.home() / ".cache" / "dealer-assistant" / "models")
    log_level: str = "INFO"

    @field_validator("dealer_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return known_timezone(value)

    @field_validator("rasa_port", "actions_port", "gateway_port")
    @classmethod
    def _valid_port(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError(f"port {value} is out of range")
        return value

    @field_validator("follow_up_days")
    @classmethod
    def _every_level(cls, value: dict[str, int]) -> dict[str, int]:
        if set(value) != {"H", "A", "B", "C"} or any(days < 1 for days in value.values()):
            raise ValueError("follow_up_days needs H, A, B and C, each at least 1 day")
        return value

    @field_validator("var_dir", "model_cache_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def survey_config_path(self) -> Path:
        return self.survey_config or PROJECT_ROOT / "config" / "surveys.yml"

    @cached_property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.dealer_timezone)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'dealer.db'}"

    @property
    def effective_tracker_store_url(self) -> str:
        return self.tracker_store_url or f"sqlite:///{self.var_dir / 'tracker.db'}"

    @property
    def outbox_path(self) -> Path:
        """Writes waiting for the dealership database (local to each action server)."""
        return self.var_dir / "outbox.sqlite"

    @property
    def dealer_data_path(self) -> Path:
        return self.dealer_data or PROJECT_ROOT / "crm_bridge" / "data" / "demo_dealer.yml"

    @property
    def effective_rasa_url(self) -> str:
        return self.rasa_url or f"http://127.0.0.1:{self.rasa_port}"

    @property
    def effective_gateway_url(self) -> str:
        return (self.gateway_public_url or f"http://127.0.0.1:{self.gateway_port}").rstrip("/")

    def effective_rasa_token(self) -> str:
        """The Rasa HTTP API token: the configured one, else one generated once into ``var/``."""
        return self.rasa_token or self._generated_secret("rasa_token")

    def effective_actions_token(self) -> str:
        """The action server's shared secret: the configured one, else one generated once."""
        return self.actions_token or self._generated_secret("actions_token")

    def effective_rest_token(self) -> str:
        """The REST channel's token: the configured one, else one generated once."""
        return self.rest_token or self._generated_secret("rest_token")

    def effective_erasure_key(self) -> bytes:
        """The key of the erasure tombstones: the configured one, else one generated once."""
        return (self.erasure_key or self._generated_secret("erasure_key")).encode("utf-8")

    def effective_telegram_webhook_secret(self) -> str:
        """What Telegram sends with every webhook update: the configured one, else generated."""
        return self.telegram_webhook_secret or self._generated_secret("telegram_webhook_secret")

    def effective_survey_link_key(self) -> bytes:
        """Key of the personal survey links' tokens (HMAC); generated once into var/."""
        return self._generated_secret("survey_link_key").encode()

    def effective_relay_token(self) -> str:
        """What Rasa's web and REST channels show the gateway to ask who answers a sender."""
        return self._generated_secret("relay_token")

    def effective_webchat_session_key(self) -> bytes:
        """Key of the web chat session ids (HMAC) shared by the gateway and Rasa; generated once."""
        return self._generated_secret("webchat_session_key").encode()

    @property
    def telegram_bot_api(self) -> tuple[str, str]:
        """The Bot API's method and file base URLs (``TELEGRAM_API_BASE_URL`` may end in /bot)."""
        base = self.telegram_api_base_url.rstrip("/").removesuffix("/bot")
        return f"{base}/bot", f"{base}/file/bot"

    @property
    def sms_configured(self) -> bool:
        """Whether verification codes can be sent by SMS (the provider's account and sender)."""
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number)

    def _generated_secret(self, name: str) -> str:
        """A secret kept in ``var/<name>``, readable by its owner only, created on first use."""
        path = self.var_dir / name
        if path.exists():
            token = path.read_text(encoding="utf-8").strip()
            if token:
                return token
        self.var_dir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(token, encoding="utf-8")
        return token


def keep_private(var_dir: Path) -> None:
    """``var/`` (databases, transcripts, outbox, secrets, logs) for the owner only.

    Called first thing by every process (the CLI, the action server, the gateway; Rasa inherits
    the launcher's mask): files and folders created from then on are owner-only, and what an
    earlier version created with wider rights is narrowed.
    """
    os.umask(0o077)
    var_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in (var_dir, *var_dir.rglob("*")):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o700)
