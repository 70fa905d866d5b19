"""The web chat page in a real browser: headless Chromium loads the page from the gateway, the local
rasa-webchat widget connects to Rasa over socket.io, greets, and answers in the customer's language.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime import paths
from tests.conftest import make_settings
from tests.integration.stack import Stack, free_port, running_stack

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DEALER, DEALER_EN = "浏览器测试奥迪", "Browser Test Audi"
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
