"""The gateway on port 8080: the web chat page (local rasa-webchat copy) and the scheduler."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from string import Template

import httpx
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.jobs import reminders
from bot.jobs.scheduler import build_scheduler
from bot.runtime import paths
from crm_bridge.db import build_session_factory
from crm_bridge.settings import Settings

logger = logging.getLogger(__name__)

# The page loads nothing from other sites (the widget bundle would fetch a web font); it talks to
# the Rasa server on another port, so connections may go to any host the page was reached by.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self' http: https: ws: wss:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def render_page(settings: Settings) -> str:
    """The chat page; every configured value is escaped for where it lands (HTML text or JS)."""
    template = Template((paths.WEB / "index.html").read_text(encoding="utf-8"))
    config = {
        "rasaPort": settings.rasa_port,
        "dealerName": settings.dealer_name,
        "dealerNameEn": settings.dealer_name_en,
    }
    # json.dumps escapes quotes; "<", ">" and "&" are escaped so "</script>" cannot close the tag.
    config_js = (
        json.dumps(config, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return template.substitute(
        title=html.escape(f"{settings.dealer_name} · {settings.dealer_name_en}"),
        dealer_name=html.escape(settings.dealer_name),
        dealer_name_en=html.escape(settings.dealer_name_en),
        config=config_js,
    )


def create_app(settings: Settings, engine: Engine) -> Starlette:
    page = render_page(settings)
    scheduler = build_scheduler(settings, engine)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as client:
            reminders.configure(
                reminders.Runtime(
                    sessions=build_session_factory(engine),
                    zone=settings.timezone,
                    scheduler=scheduler,
                    customers=reminders.RasaConversations(
                        settings.effective_rasa_url, settings.effective_rasa_token(), client
                    ),
                    consultants=reminders.consultant_channel(settings),
                )
            )
            reminders.schedule_sync(scheduler)
            scheduler.start()
            logger.info("scheduler started (%d jobs)", len(scheduler.get_jobs()))
            try:
                yield
            finally:
                scheduler.shutdown(wait=False)

    async def index(request: Request) -> Response:
        """The page with the chat widget."""
        return HTMLResponse(page, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})

    async def healthz(request: Request) -> Response:
        """Liveness: the gateway answers and its scheduler runs."""
        running = bool(scheduler.running)
        return JSONResponse(
            {"status": "ok" if running else "degraded", "scheduler": running},
            status_code=200 if running else 503,
        )

    if not paths.WEBCHAT_JS.exists():
        raise SystemExit(f"{paths.WEBCHAT_JS} is missing: run `make setup` to fetch the widget")
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Mount("/static/webchat", StaticFiles(directory=paths.WEBCHAT_JS.parent)),
        ],
        lifespan=lifespan,
    )
    app.state.scheduler = scheduler
    return app
