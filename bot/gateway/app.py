"""The gateway on port 8080: the web chat page (local rasa-webchat copy) and the scheduler."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from string import Template

import httpx
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.channels.rasa import RasaClient
from bot.gateway import telegram as telegram_side
from bot.jobs import channels as job_channels
from bot.jobs import follow_ups as follow_up_jobs
from bot.jobs import handoff as handoff_jobs
from bot.jobs import nudges, proactive, reminders
from bot.jobs import runtime as job_runtime
from bot.jobs import tickets as ticket_jobs
from bot.jobs.scheduler import build_scheduler
from bot.runtime import paths
from crm_bridge.db import build_session_factory
from crm_bridge.quiet import QuietHours
from crm_bridge.settings import Settings
from crm_bridge.surveys import config as survey_config

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
    surveys = survey_config.load(settings.survey_config_path)  # a broken file stops the start
    scheduler = build_scheduler(settings, engine)

    sessions = build_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as client:
            rasa = RasaClient(
                settings.effective_rasa_url,
                settings.effective_rasa_token(),
                settings.effective_rest_token(),
                client,
            )
            async with telegram_side.running(settings, sessions, rasa) as telegram:
                app.state.telegram = telegram
                bot = telegram.bot if telegram is not None else None
                job_runtime.configure(
                    job_runtime.Runtime(
                        sessions=sessions,
                        zone=settings.timezone,
                        scheduler=scheduler,
                        customers=job_channels.RasaConversations(
                            settings.effective_rasa_url,
                            settings.effective_rasa_token(),
                            client,
                            telegram,
                        ),
                        consultants=job_channels.consultant_channel(settings, bot),
                        quiet=QuietHours(
                            settings.timezone, settings.quiet_hours_start, settings.quiet_hours_end
                        ),
                        surveys=surveys,
                        report=job_channels.managers_report(telegram),
                    )
                )
                handoff_jobs.configure(telegram)
                ticket_jobs.configure(telegram)
                follow_up_jobs.configure(telegram, settings)
                reminders.schedule_sync(scheduler)
                proactive.schedule_retries(scheduler)
                nudges.schedule(scheduler, timedelta(hours=settings.nudge_after_hours))
                handoff_jobs.schedule(scheduler)
                ticket_jobs.schedule(scheduler)
                follow_up_jobs.schedule(scheduler)
                scheduler.start()
                logger.info("scheduler started (%d jobs)", len(scheduler.get_jobs()))
                try:
                    yield
                finally:
                    scheduler.shutdown(wait=False)
                    handoff_jobs.configure(None)
                    ticket_jobs.configure(None)
                    follow_up_jobs.configure(None)
                    job_runtime.configure(None)

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
            Route(telegram_side.WEBHOOK_PATH, telegram_side.webhook, methods=["POST"]),
            Route("/internal/relay/inbound", telegram_side.relay_inbound, methods=["POST"]),
            Route("/media/{name}", telegram_side.media),
            Mount("/static/webchat", StaticFiles(directory=paths.WEBCHAT_JS.parent)),
        ],
        lifespan=lifespan,
    )
    app.state.scheduler = scheduler
    app.state.settings = settings
    app.state.telegram = None
    return app
