"""Where the parts of the checkout are."""

from __future__ import annotations

from crm_bridge.settings import PROJECT_ROOT

RASA_VENV = PROJECT_ROOT / ".venv-rasa"
RASA_BIN = RASA_VENV / "bin" / "rasa"
CONFIG = PROJECT_ROOT / "config.yml"
DOMAIN = PROJECT_ROOT / "domain"
TRAINING_DATA = PROJECT_ROOT / "nlu" / "data"
CREDENTIALS = PROJECT_ROOT / "credentials.yml"
ENDPOINTS = PROJECT_ROOT / "endpoints.yml"
WEB = PROJECT_ROOT / "bot" / "gateway" / "web"
WEBCHAT_JS = WEB / "vendor" / "rasa-webchat" / "index.js"
