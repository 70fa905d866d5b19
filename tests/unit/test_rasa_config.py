"""The effective Rasa endpoints for the embedded default and the production profile."""

from pathlib import Path

import pytest
import yaml

from bot.runtime.rasa_config import rasa_environment, render_endpoints, write_endpoints
from tests.conftest import make_settings


def test_embedded_default(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, actions_port=6055)
    endpoints = render_endpoints(settings)
    assert endpoints["action_endpoint"] == {
        "url": "http://127.0.0.1:6055/webhook",
        "headers": {"Authorization": "Bearer ${DA_ACTIONS_TOKEN}"},
    }
    assert endpoints["tracker_store"] == {
        "type": "SQL",
        "dialect": "sqlite",
        "db": str((tmp_path / "var" / "tracker.db").resolve()),
    }
    assert endpoints["lock_store"] == {"type": "in_memory"}
    assert "event_broker" not in endpoints


def test_production_profile_keeps_secrets_out_of_the_file(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        tracker_store_url="postgresql+psycopg://rasa:s3cret@db.internal:5433/tracker",
        redis_url="redis://:r3dis@cache:6380/2",
        rabbitmq_url="amqp://bot:m%40q@mq:5672/%2F",
    )
    path = write_endpoints(settings)
    text = path.read_text()
    for secret in ("s3cret", "r3dis", "m@q", "m%40q"):
        assert secret not in text
    endpoints = yaml.safe_load(text)
    assert endpoints["tracker_store"] == {
        "type": "SQL",
        "dialect": "postgresql",
        "url": "${DA_TRACKER_STORE_URL}",
    }
    assert endpoints["lock_store"] == {
        "type": "redis",
        "url": "cache",
        "port": 6380,
        "db": 2,
        "key_prefix": "dealer_assistant",
        "use_ssl": False,
        "password": "${DA_REDIS_PASSWORD}",
    }
    broker = endpoints["event_broker"]
    assert broker["type"] == "pika"
    assert broker["username"] == "bot"
    assert broker["password"] == "${DA_RABBITMQ_PASSWORD}"

    env = rasa_environment(settings)
    # Rasa's SQLAlchemy 1.4 uses psycopg2: the driver suffix is dropped.
    assert env["DA_TRACKER_STORE_URL"] == "postgresql://rasa:s3cret@db.internal:5433/tracker"
    assert env["DA_REDIS_PASSWORD"] == "r3dis"
    assert env["DA_RABBITMQ_PASSWORD"] == "m@q"


def test_unsupported_tracker_store_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, tracker_store_url="mysql://u@h/db")
    with pytest.raises(ValueError, match="TRACKER_STORE_URL"):
        render_endpoints(settings)


def test_the_action_server_token_reaches_rasa_and_never_the_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    token = settings.effective_actions_token()
    assert len(token) >= 40
    assert settings.effective_actions_token() == token  # generated once, kept in var/
    assert (settings.var_dir / "actions_token").stat().st_mode & 0o777 == 0o600
    assert rasa_environment(settings)["DA_ACTIONS_TOKEN"] == token
    path = write_endpoints(settings)
    assert token not in path.read_text(encoding="utf-8")
    configured = make_settings(tmp_path, actions_token="from-the-environment")
    assert rasa_environment(configured)["DA_ACTIONS_TOKEN"] == "from-the-environment"


def test_the_phone_channel_gets_its_token_url_and_language(tmp_path: Path) -> None:
    plain = rasa_environment(make_settings(tmp_path))
    assert "TWILIO_AUTH_TOKEN" not in plain  # no token: the phone channel refuses calls
    assert plain["PHONE_LANGUAGE"] == "zh"
    settings = make_settings(
        tmp_path, twilio_auth_token="t0ken", phone_public_url="https://dealer.example.com",
        phone_language="en",
    )  # fmt: skip
    env = rasa_environment(settings)
    assert (env["TWILIO_AUTH_TOKEN"], env["PHONE_PUBLIC_URL"], env["PHONE_LANGUAGE"]) == (
        "t0ken", "https://dealer.example.com", "en",
    )  # fmt: skip
