"""Configuration read from the environment or a ``.env`` file (names are part of the contract)."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
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
    rasa_port: int = 5005
    rasa_url: str | None = None  # where the scheduler reaches Rasa; default: localhost:RASA_PORT
    actions_port: int = 5055
    gateway_port: int = 8080
    dealer_timezone: str = "Asia/Shanghai"
    dealer_data: Path | None = None
    dealer_name: str = "星辰奥迪"
    dealer_name_en: str = "Xingchen Audi"
    telegram_bot_token: str | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_sales_chat_id: int | None = None
    twilio_auth_token: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
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

    @field_validator("var_dir", "model_cache_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

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

    def effective_rasa_token(self) -> str:
        """The Rasa HTTP API token: the configured one, else one generated once into ``var/``."""
        if self.rasa_token:
            return self.rasa_token
        path = self.var_dir / "rasa_token"
        if path.exists():
            token = path.read_text(encoding="utf-8").strip()
            if token:
                return token
        self.var_dir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(token, encoding="utf-8")
        return token
