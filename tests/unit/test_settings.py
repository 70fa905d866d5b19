from pathlib import Path

import pytest
from pydantic import ValidationError

from crm_bridge.settings import Settings
from tests.conftest import make_settings


def test_embedded_defaults_live_under_var(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    var = (tmp_path / "var").resolve()
    assert settings.effective_database_url == f"sqlite:///{var / 'dealer.db'}"
    assert settings.effective_tracker_store_url == f"sqlite:///{var / 'tracker.db'}"
    assert (settings.rasa_port, settings.actions_port, settings.gateway_port) == (5005, 5055, 8080)
    assert settings.timezone.key == "Asia/Shanghai"
    assert settings.redis_url is None
    assert settings.rabbitmq_url is None
    assert settings.dealer_data_path.name == "demo_dealer.yml"
    assert settings.dealer_data_path.exists()


def test_environment_and_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DATABASE_URL=postgresql+psycopg://u@db/x\nDEALER_NAME=测试奥迪\n")
    monkeypatch.setenv("RASA_PORT", "6005")
    monkeypatch.setenv("DEALER_NAME", "环境变量优先")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.effective_database_url == "postgresql+psycopg://u@db/x"
    assert settings.rasa_port == 6005
    assert settings.dealer_name == "环境变量优先"


def test_rasa_token_is_generated_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    token = settings.effective_rasa_token()
    assert len(token) >= 32
    assert make_settings(tmp_path).effective_rasa_token() == token
    assert (tmp_path / "var" / "rasa_token").stat().st_mode & 0o077 == 0
    assert make_settings(tmp_path, rasa_token="given").effective_rasa_token() == "given"


@pytest.mark.parametrize(
    ("field", "value"),
    [("dealer_timezone", "Mars/Olympus"), ("rasa_port", 70000), ("gateway_port", 0)],
)
def test_bad_configuration_is_refused(tmp_path: Path, field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        make_settings(tmp_path, **{field: value})
