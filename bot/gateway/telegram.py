"""The gateway's Telegram side: starting and stopping the one Application, the webhook route,
the relay check Rasa's web and REST channels make, and relayed photos for the web chat."""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from telegram import Update

from bot.channels.rasa import RasaClient
from bot.channels.telegram import relay
from bot.channels.telegram.application import build_application, register
from bot.channels.telegram.runtime import Telegram
from bot.gateway import internal
from crm_bridge.db import SessionFactory
from crm_bridge.settings import Settings

logger = logging.getLogger(__name__)

WEBHOOK_PATH: Final = "/telegram/webhook"
SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# A Telegram update is small; anything bigger is not one.
MAX_UPDATE_BYTES: Final = 1_000_000
MEDIA_NAME: Final = re.compile(r"[0-9a-f]{32}\.jpg")


@asynccontextmanager
async def running(
    settings: Settings, sessions: SessionFactory, rasa: RasaClient
) -> AsyncIterator[Telegram | None]:
    """The Telegram channel for the gateway's lifetime; None (and said once) without a token."""
    if not settings.telegram_bot_token:
        logger.info("Telegram is off: TELEGRAM_BOT_TOKEN is not set")
        yield None
        return
    application = build_application(settings)
    telegram = Telegram(settings, sessions, rasa, application)
    register(telegram)
    await application.initialize()
    await application.start()
    try:
        await _connect(telegram)
        resumed = await telegram.resume()
        if resumed:
            logger.info("Telegram: %d updates from before the restart queued again", resumed)
        yield telegram
    finally:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        await application.stop()
        await application.shutdown()


async def _connect(telegram: Telegram) -> None:
    settings, bot = telegram.settings, telegram.bot
    if settings.telegram_webhook_url:
        await bot.set_webhook(
            settings.telegram_webhook_url,
            secret_token=settings.effective_telegram_webhook_secret(),
            allowed_updates=Update.ALL_TYPES,
        )
        logger.info("Telegram: webhook mode (updates arrive at %s)", WEBHOOK_PATH)
    else:
        await bot.delete_webhook()
        assert telegram.application.updater is not None
        await telegram.application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        logger.info("Telegram: polling mode")


async def webhook(request: Request) -> Response:
    """An update from Telegram: checked, recorded, queued, acknowledged."""
    telegram: Telegram | None = request.app.state.telegram
    if telegram is None or not telegram.settings.telegram_webhook_url:
        return JSONResponse({"error": "telegram is not in webhook mode"}, status_code=404)
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(
        given.encode(), telegram.settings.effective_telegram_webhook_secret().encode()
    ):
        return JSONResponse({"error": "forbidden"}, status_code=403)
    body = await request.body()
    try:
        payload: Any = json.loads(body) if len(body) <= MAX_UPDATE_BYTES else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
        return JSONResponse({"error": "not a Telegram update"}, status_code=400)
    await telegram.accept(payload)
    return JSONResponse({"ok": True})


async def relay_inbound(request: Request) -> Response:
    """Rasa's web and REST channels ask who answers a sender; a consultant gets the message."""
    telegram: Telegram | None = request.app.state.telegram
    if not internal.from_rasa(request):
        return JSONResponse({"error": "forbidden"}, status_code=403)
    try:
        data = await request.json()
        sender, text = str(data["sender_id"]), str(data["text"])[:4000]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "sender_id and text are needed"}, status_code=400)
    if telegram is None:
        return JSONResponse({"handled_by": "assistant"})
    taken = await relay.from_customer(telegram, sender, text, None)
    return JSONResponse({"handled_by": "consultant" if taken else "assistant"})


async def media(request: Request) -> Response:
    """A photo a consultant sent to a web chat customer (unguessable names, nothing else)."""
    name = request.path_params["name"]
    settings: Settings = request.app.state.settings
    path = settings.var_dir / "media" / name
    if not MEDIA_NAME.fullmatch(name) or not path.is_file():
        return JSONResponse({"error": "not found"}, status_code=404)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private"})
