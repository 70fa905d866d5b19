"""The gateway: chat page, local widget, health, and a scheduler whose jobs survive restarts."""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from bot.gateway.app import create_app
from bot.runtime import paths
from tests.conftest import make_settings

pytestmark = pytest.mark.skipif(
    not paths.WEBCHAT_JS.exists(), reason="web chat widget not fetched (run `make setup`)"
)


def remember(note: str) -> None:
    """A job target for the persistence test."""


def test_page_serves_the_local_widget(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rasa_port=6005)
    with TestClient(create_app(settings, engine)) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert '<script src="/static/webchat/index.js"></script>' in page.text
        assert "cdn" not in page.text.lower()
        assert '"rasaPort": 6005' in page.text
        assert settings.dealer_name in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "style-src 'self' 'unsafe-inline'" in csp
        widget = client.get("/static/webchat/index.js")
        assert widget.status_code == 200
        assert widget.content == paths.WEBCHAT_JS.read_bytes()
        assert "javascript" in widget.headers["content-type"]
        assert client.get("/healthz").json() == {"status": "ok", "scheduler": True}
        assert client.get("/static/webchat/../../gateway.py").status_code == 404


def test_configured_names_are_escaped(engine: Engine, tmp_path: Path) -> None:
    hostile = '</script><script>alert("x")</script>&'
    settings = make_settings(tmp_path, dealer_name=hostile, dealer_name_en="<b>bold</b>")
    with TestClient(create_app(settings, engine)) as client:
        page = client.get("/").text
    assert hostile not in page
    assert "<b>bold</b>" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    assert page.count("</script>") == 2  # only the page's own two script tags


def test_scheduled_jobs_survive_a_restart(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    run_at = datetime.now(UTC) + timedelta(days=1)
    with TestClient(create_app(settings, engine)) as client:
        scheduler = client.app.state.scheduler  # type: ignore[attr-defined]
        scheduler.add_job(
            remember, "date", run_date=run_at, args=["x"], id="test:1:d1", replace_existing=True
        )
    with TestClient(create_app(settings, engine)) as client:
        jobs = client.app.state.scheduler.get_jobs()  # type: ignore[attr-defined]
        assert [(job.id, job.next_run_time) for job in jobs if job.id.startswith("test:")] == [
            ("test:1:d1", run_at)
        ]
        # The gateway's own recurring job is there once, whatever the number of restarts.
        assert [job.id for job in jobs].count("bookings:sync") == 1
        assert all(job.next_run_time.tzinfo is not None for job in jobs)


def test_without_a_bot_token_telegram_is_off_and_said_so(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path)
    with caplog.at_level(logging.INFO), TestClient(create_app(settings, engine)) as client:
        assert client.app.state.telegram is None  # type: ignore[attr-defined]
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "hi",
                                              "chat": {"id": 1, "type": "private"}}}  # fmt: skip
        assert client.post("/telegram/webhook", json=update).status_code == 404
        # Rasa's channels asking who answers: only with the relay token.
        ask = {"sender_id": "web-1", "text": "hi"}
        assert client.post("/internal/relay/inbound", json=ask).status_code == 403
        token = settings.effective_relay_token()
        answer = client.post(
            "/internal/relay/inbound", json=ask, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.json() == {"handled_by": "assistant"}
        assert client.get("/media/..%2F..%2Fdealer.db").status_code == 404
    assert "Telegram is off: TELEGRAM_BOT_TOKEN is not set" in caplog.text
