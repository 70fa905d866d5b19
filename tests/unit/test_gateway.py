"""The gateway: chat page, local widget, health, and a scheduler whose jobs survive restarts."""

import json
import logging
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from bot.gateway import webchat_sessions
from bot.gateway.app import create_app, render_page
from bot.runtime import paths
from channels.webchat_sessions import SessionSigner
from crm_bridge.dealer_data import DealerData, load_dealer_data
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
    assert page.count("</script>") == 3  # only the page's own three script tags


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


def landing(tmp_path: Path, dealer: DealerData | None = None, today: date | None = None) -> str:
    settings = make_settings(tmp_path, dealer_name="星辰奥迪", dealer_name_en="Xingchen Audi")
    return render_page(settings, dealer, today or date(2026, 12, 2))


def test_the_landing_page_shows_the_dealer_in_both_languages(tmp_path: Path) -> None:
    page = landing(tmp_path)
    zh = re.findall(r'data-lang="zh" lang="zh-CN">([^<]*)<', page)
    en = re.findall(r'data-lang="en" lang="en">([^<]*)<', page)
    # Address, weekly hours (equal days on one row), coming holidays, parking and transport.
    assert "上海市闵行区虹梅南路1888号" in zh
    assert "1888 Hongmei South Road, Minhang District, Shanghai" in en
    assert [text for text in zh if text.startswith("周") or text[:2].isdigit()] == [
        "周一至周四",
        "09:00–18:00",
        "周五至周六",
        "09:00–18:30",
        "周日",
        "09:30–18:00",
    ]
    assert {"Mon–Thu", "Fri–Sat", "Sun", "09:00–18:00", "09:00–18:30", "09:30–18:00"} <= set(en)
    assert "停车：展厅门前免费停车" in zh
    assert "Parking: free parking in front of the showroom" in en
    # The phone: a link to call and the number as people write it.
    assert page.count('href="tel:+862168880000"') == 2
    assert "+86 21 6888 0000" in page
    # The offers valid on the day, with their end date and models; none that ended.
    assert "Q5L 置换补贴最高2万元" in zh
    assert "Q5L trade-in bonus up to CNY 20,000" in en
    assert "有效期至2026年12月31日 · 适用车型：Q5L" in zh
    assert "Until 31 Dec 2026 · Models: Q5L" in en
    assert "Home charger with installation for e-tron models" in en
    later = landing(tmp_path, today=date(2027, 2, 1))
    assert "Home charger with installation for e-tron models" in later
    assert "Q5L trade-in bonus" not in later
    none = landing(tmp_path, today=date(2030, 1, 1))
    assert "目前暂无优惠活动。" in none
    assert "No offers at the moment." in none
    # Each text in both languages: as many Chinese variants as English ones.
    assert len(zh) == len(en)
    assert "欢迎光临星辰奥迪" in zh
    assert "Welcome to Xingchen Audi" in en
    # Readable on a phone, and nothing from other sites.
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media (max-width: 30rem)" in page
    assert "http://" not in page.replace('"http://"', "")
    assert "https://" not in page
    assert "@import" not in page
    assert "@font-face" not in page


def test_the_language_switch_is_remembered_and_told_to_the_widget(tmp_path: Path) -> None:
    page = landing(tmp_path)
    assert '<button type="button" data-switch="zh"' in page
    assert '<button type="button" data-switch="en"' in page
    # Remembered in the browser, read back before the first paint.
    assert 'localStorage.setItem("dealer.language", language)' in page
    assert 'localStorage.getItem("dealer.language")' in page
    assert page.index('getItem("dealer.language")') < page.index("<body>")
    # The widget's customData carries the language; the object is updated in place.
    assert "var customData = { language: language };" in page
    assert "customData: customData," in page
    assert "customData.language = language;" in page
    assert 'html[data-ui="zh"] [data-lang="en"], html[data-ui="en"] [data-lang="zh"]' in page
    config = json.loads(re.search(r"var config = (\{.*?\});", page).group(1))  # type: ignore[union-attr]
    assert config["titleZh"] == "星辰奥迪 · 在线助手"
    assert config["titleEn"] == "Xingchen Audi · Online assistant"


def test_a_survey_link_still_opens_the_survey(tmp_path: Path) -> None:
    page = landing(tmp_path)
    # string.Template turned "$$" into the regular expression's end anchor.
    assert "/^[A-Za-z0-9_-]{1,64}$/.test(survey)" in page
    assert '"/start_survey" + JSON.stringify({ survey_token: survey })' in page
    assert "initPayload: start," in page
    # Its own conversation in the tab's storage; the visitor's usual chat stays in localStorage.
    assert 'storage: surveyLink ? "session" : "local"' in page
    # The widget starts on the gateway's signed session id (Rasa accepts no other).
    assert 'fetch("/session"' in page
    assert 'version: "1.0.1"' in page  # what rasa-webchat keeps a stored session under
    assert "isChatVisible: true" in page  # and the widget's initial state with it


def test_dealer_data_is_escaped_wherever_it_lands(tmp_path: Path) -> None:
    demo = load_dealer_data()
    hostile = '<img src=x onerror="alert(1)">&'
    dealer = demo.dealer.model_copy(
        update={"address": hostile, "address_en": "</table><script>x()</script>",
                "parking": "<b>停车</b> / <i>parking</i>"}
    )  # fmt: skip
    promotion = demo.promotions[0].model_copy(
        update={"title": "<script>alert('优惠')</script>", "title_en": '"><svg onload=x()>'}
    )
    data = demo.model_copy(update={"dealer": dealer, "promotions": [promotion]})
    page = landing(tmp_path, data)
    for raw in (hostile, "</table><script>", "<b>", "<i>", "<script>alert(", "<svg"):
        assert raw not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in page
    assert "&lt;/table&gt;&lt;script&gt;x()&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#x27;优惠&#x27;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;svg onload=x()&gt;" in page
    assert "停车：&lt;b&gt;停车&lt;/b&gt;" in page
    assert page.count("</script>") == 3


def test_the_gateway_issues_signed_web_chat_sessions(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    key = settings.effective_webchat_session_key()
    assert key == settings.effective_webchat_session_key()  # generated once into var/
    assert (settings.var_dir / "webchat_session_key").stat().st_mode & 0o077 == 0
    with TestClient(create_app(settings, engine)) as client:
        answers = [client.get("/session") for _ in range(3)]
    ids = [answer.json()["session_id"] for answer in answers]
    assert len(set(ids)) == 3
    assert all(answer.headers["cache-control"] == "no-store" for answer in answers)
    # Rasa's channel accepts them with the same key (the value the launcher hands it).
    rasa_side = SessionSigner(key)
    assert all(rasa_side.valid(session_id) for session_id in ids)
    assert all(webchat_sessions.valid(key, session_id) for session_id in ids)


def test_forged_truncated_or_foreign_session_ids_are_refused() -> None:
    key, other = b"k" * 32, b"o" * 32
    issued = webchat_sessions.issue(key)
    rasa_side, foreign = SessionSigner(key), SessionSigner(other)
    assert len(issued) == 64
    assert re.fullmatch(r"[0-9a-f]{64}", issued)
    assert webchat_sessions.valid(key, issued)
    assert rasa_side.valid(issued)
    # And the other way round: what Rasa issues for a stale id, the gateway accepts.
    assert webchat_sessions.valid(key, rasa_side.issue())
    flipped = issued[:-1] + ("0" if issued[-1] != "0" else "1")
    forged_nonce = ("f" if issued[0] != "f" else "e") + issued[1:]
    guesses: list[object] = [
        flipped,
        forged_nonce,
        issued[:-1],  # truncated
        issued[:32],  # the nonce alone
        issued + "0",
        issued.upper(),
        f" {issued}",
        "web-1",
        "",
        None,
        42,
        ["x"],
        "0" * 64,
    ]
    for guess in guesses:
        assert not webchat_sessions.valid(key, guess), guess
        assert not rasa_side.valid(guess), guess
    assert not webchat_sessions.valid(other, issued)  # another key
    assert not foreign.valid(issued)
    assert not rasa_side.valid(foreign.issue())
    with pytest.raises(ValueError, match="at least 16 bytes"):
        SessionSigner(b"short")
    assert SessionSigner.from_environment({"DA_WEBCHAT_SESSION_KEY": key.decode()}).valid(issued)
    # Without the key Rasa signs with one of its own: the gateway's ids are replaced, not trusted.
    assert not SessionSigner.from_environment({}).valid(issued)
