"""The gateway on port 8080: the web chat page (local rasa-webchat copy) and the scheduler."""

from __future__ import annotations

import argparse
import html
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from string import Template

import httpx
import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot import paths, reminders
from bot.scheduler import build_scheduler
from crm_bridge.db import build_engine, build_session_factory
from crm_bridge.logsafe import redact_logs
from crm_bridge.settings import Settings, keep_private

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Dealer Assistant gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: GATEWAY_PORT or 8080")
    args = parser.parse_args(argv)
    redact_logs()
    settings = Settings()
    keep_private(settings.var_dir)
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    engine = build_engine(settings.effective_database_url)
    app = create_app(settings, engine)
    uvicorn.run(app, host=args.host, port=args.port or settings.gateway_port, log_level="info")


if __name__ == "__main__":
    main()
