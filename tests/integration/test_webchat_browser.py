"""The web chat page in a real browser: headless Chromium loads the page from the gateway, the local
rasa-webchat widget connects to Rasa over socket.io, greets, and answers in the customer's language.

The landing page at a phone's width: the language switch (remembered, and told to the widget), a
test drive booked in Chinese by clicking the assistant's buttons, the booking in the database, the
conversation kept across a reload on its gateway-signed session id. Screenshots of the page are
kept in ``var/artefacts/webchat/`` (``landing-390x844-en.png``, ``landing-390x844-zh.png``,
``chat-390x844-zh.png``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.gateway import webchat_sessions
from bot.runtime import paths
from crm_bridge.settings import PROJECT_ROOT
from tests.conftest import make_settings
from tests.integration.stack import Stack, free_port, running_stack

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DEALER, DEALER_EN = "浏览器测试奥迪", "Browser Test Audi"
CLI = str(Path(sys.executable).parent / "dealer-assistant")
ARTEFACTS = PROJECT_ROOT / "var" / "artefacts" / "webchat"
PHONE: ViewportSize = {"width": 390, "height": 844}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (make test installs it with apt-get when root)")
    if not paths.WEBCHAT_JS.exists():
        pytest.skip("web chat widget not fetched (run `make setup`)")
    settings = make_settings(
        Path(tmp_path_factory.mktemp("browser")),
        rasa_port=free_port(),
        actions_port=free_port(),
        gateway_port=free_port(),
        dealer_name=DEALER,
        dealer_name_en=DEALER_EN,
    )
    with running_stack(settings, with_gateway=True) as stack:
        yield stack


@pytest.mark.parametrize(
    ("locale", "greeting", "question", "answer"),
    [
        ("zh-CN", f"欢迎来到{DEALER}", "谢谢", "不客气"),
        ("en-US", f"welcome to {DEALER_EN}", "thanks a lot", "You're welcome"),
    ],
)
def test_widget_greets_and_answers(
    stack: Stack, locale: str, greeting: str, question: str, answer: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url = f"http://127.0.0.1:{stack.settings.gateway_port}/"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(locale=locale)
            requested: list[str] = []
            blocked: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.on(
                "requestfailed",
                lambda request: (
                    blocked.append(request.url)
                    if "csp" in (request.failure or "").lower()
                    else None
                ),
            )
            page.goto(url)
            page.locator(".rw-launcher").click()
            replies = page.locator(".rw-response")
            expect(replies.first).to_contain_text(greeting, timeout=60_000)
            page.locator(".rw-new-message").fill(question)
            page.keyboard.press("Enter")
            expect(replies.nth(1)).to_contain_text(answer, timeout=60_000)
            # Everything the page loads or talks to is on this machine: no CDN. The widget bundle
            # asks for a web font; the page's Content-Security-Policy stops it in the browser.
            local = ("http://127.0.0.1:", "ws://127.0.0.1:", "data:")
            assert [u for u in requested if not u.startswith(local) and u not in blocked] == []
        finally:
            browser.close()


def bookings(stack: Stack) -> list[dict[str, Any]]:
    """The dealership database's bookings, as the CLI exports them."""
    result = subprocess.run(
        [CLI, "bookings", "export", "--format", "json"],
        env={**os.environ, "DATABASE_URL": stack.settings.effective_database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    records: list[dict[str, Any]] = json.loads(result.stdout)
    return records


def test_landing_page_at_phone_width_and_a_test_drive_booked_by_buttons(stack: Stack) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    url = f"http://127.0.0.1:{stack.settings.gateway_port}/"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    phone_number = "13700137042"

    def bot_said(page: Page, text: str) -> None:
        expect(page.locator(".rw-response").filter(has_text=text).last).to_be_visible(
            timeout=60_000
        )

    def click_reply(page: Page, title: str) -> None:
        button = page.locator(".rw-replies .rw-reply").filter(has_text=re.compile(f"^{title}$"))
        expect(button.last).to_be_visible(timeout=60_000)
        button.last.click()

    def type_message(page: Page, text: str) -> None:
        page.locator(".rw-new-message").fill(text)
        page.keyboard.press("Enter")

    def fits_the_screen(page: Page) -> None:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide on a 390px screen"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            # An English-speaking browser: the page starts in English.
            context = browser.new_context(locale="en-US", viewport=PHONE, device_scale_factor=2)
            page = context.new_page()
            page.goto(url)
            # What is shown (inner text: the other language's variants are hidden).
            visit = page.locator("#visit")
            assert "1888 Hongmei South Road" in visit.inner_text()
            assert "虹梅南路" not in visit.inner_text()
            assert "Current offers" in page.locator("#offers").inner_text()
            assert "Q5L trade-in bonus" in page.locator("#offers").inner_text()
            assert "+86 21 6888 0000" in page.locator("#contact").inner_text()
            fits_the_screen(page)
            page.screenshot(path=str(ARTEFACTS / "landing-390x844-en.png"), full_page=True)

            # Switched to Chinese: the page follows, and the choice is remembered.
            page.locator('[data-switch="zh"]').click()
            expect(page.locator('[data-switch="zh"]')).to_have_attribute("aria-pressed", "true")
            assert "上海市闵行区虹梅南路1888号" in visit.inner_text()
            assert "Hongmei South Road" not in visit.inner_text()
            assert "周一至周四" in page.locator("#hours").inner_text()
            assert "置换补贴" in page.locator("#offers").inner_text()
            assert page.evaluate("localStorage.getItem('dealer.language')") == "zh"
            page.reload()
            expect(page.locator("#hours h3 [data-lang=zh]")).to_be_visible()
            expect(page.locator("#hours h3 [data-lang=en]")).to_be_hidden()
            assert "Opening hours" not in page.locator("#hours").inner_text()
            assert page.evaluate("document.documentElement.lang") == "zh-CN"
            fits_the_screen(page)
            page.screenshot(path=str(ARTEFACTS / "landing-390x844-zh.png"), full_page=True)

            # The chat, opened from the page: the widget was told Chinese (customData.language),
            # so the greeting of this English-speaking browser is Chinese.
            page.locator("#open-chat").click()
            bot_said(page, f"欢迎来到{DEALER}")
            expect(page.locator(".rw-title")).to_contain_text(DEALER)
            session = page.evaluate("JSON.parse(localStorage.getItem('chat_session')).session_id")
            key = stack.settings.effective_webchat_session_key()
            assert webchat_sessions.valid(key, session)  # the gateway's, signed

            # A test drive, booked by clicking the assistant's buttons.
            type_message(page, "我想预约试驾Q5L")
            slots = page.locator(".rw-replies .rw-reply")
            expect(slots.first).to_be_visible(timeout=60_000)
            assert slots.count() >= 2
            slots.first.click()
            bot_said(page, "隐私说明")
            click_reply(page, "同意")
            bot_said(page, "请问您怎么称呼？")
            type_message(page, "张伟")
            bot_said(page, "手机号")
            type_message(page, phone_number)
            bot_said(page, "驾照")
            click_reply(page, "有驾照")
            bot_said(page, "确认预约吗")
            click_reply(page, "确认预约")
            bot_said(page, "预约成功")
            page.screenshot(path=str(ARTEFACTS / "chat-390x844-zh.png"))

            [booking] = [b for b in bookings(stack) if b["phone"] == f"+86{phone_number}"]
            assert (booking["model"], booking["status"], booking["customer_name"]) == (
                "Q5L",
                "booked",
                "张伟",
            )

            # A reload keeps the conversation, on the same session id.
            page.reload()
            # The widget keeps its state too: the chat is open again, or its launcher shows.
            chat_or_launcher = page.locator(".rw-conversation-container, .rw-launcher:visible")
            expect(chat_or_launcher.first).to_be_visible(timeout=60_000)
            if not page.locator(".rw-conversation-container").is_visible():
                page.locator(".rw-launcher").click()
            bot_said(page, "预约成功")
            assert (
                page.evaluate("JSON.parse(localStorage.getItem('chat_session')).session_id")
                == session
            )
            type_message(page, "谢谢")
            bot_said(page, "不客气")
            context.close()
        finally:
            browser.close()
    for name in ("landing-390x844-en.png", "landing-390x844-zh.png", "chat-390x844-zh.png"):
        assert (ARTEFACTS / name).stat().st_size > 10_000
