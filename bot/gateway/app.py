"""The gateway on port 8080: the web chat page (local rasa-webchat copy) and the scheduler."""

from __future__ import annotations

import functools
import html
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from string import Template

import httpx
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.channels.phone import status as phone_status
from bot.channels.phone.line import PhoneLine
from bot.channels.rasa import RasaClient
from bot.gateway import landing, webchat_sessions
from bot.gateway import telegram as telegram_side
from bot.jobs import calls as call_jobs
from bot.jobs import channels as job_channels
from bot.jobs import follow_ups as follow_up_jobs
from bot.jobs import handoff as handoff_jobs
from bot.jobs import nudges, proactive, reminders
from bot.jobs import runtime as job_runtime
from bot.jobs import tickets as ticket_jobs
from bot.jobs.scheduler import build_scheduler
from bot.runtime import paths
from crm_bridge.db import build_session_factory
from crm_bridge.dealer_data import DealerData, load_dealer_data
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


def _js(value: object) -> str:
    """``value`` as a JavaScript literal; "<", ">" and "&" escaped so "</script>" cannot end it."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def render_page(
    settings: Settings, dealer: DealerData | None = None, today: date | None = None
) -> str:
    """The landing page with the chat widget, in both languages.

    The dealer's names come from the settings (DEALER_NAME, as the assistant introduces itself);
    address, hours, phone and the offers valid ``today`` (the dealer's date) from the dealer data
    file. Every value is escaped for where it lands (HTML text, attribute or script).
    """
    data = dealer or load_dealer_data(settings.dealer_data_path)
    day = today or datetime.now(settings.timezone).date()
    template = Template((paths.WEB / "index.html").read_text(encoding="utf-8"))
    name, name_en = settings.dealer_name, settings.dealer_name_en
    title_zh, title_en = f"{name} · 在线助手", f"{name_en} · Online assistant"
    config = {
        "rasaPort": settings.rasa_port,
        "dealerName": name,
        "dealerNameEn": name_en,
        "titleZh": title_zh,
        "titleEn": title_en,
    }
    phone_href, phone_text = landing.phone(data)
    address = landing.both(data.dealer.address, data.dealer.address_en)
    return template.substitute(
        title=html.escape(f"{name} · {name_en}"),
        dealer_name_both=landing.both(name, name_en),
        tagline=landing.both("授权经销商 · 在线助手", "Authorised dealer · Online assistant"),
        hero_title=landing.both(f"欢迎光临{name}", f"Welcome to {name_en}"),
        hero_text=landing.both(
            "了解车型、价格与优惠，预约试驾，或联系销售顾问——在线助手随时为您服务。",
            "Ask about our models, prices and offers, book a test drive or reach a sales "
            "consultant — the online assistant is here around the clock.",
        ),
        chat_label=landing.both("在线咨询 · 预约试驾", "Chat · Book a test drive"),
        call_label=landing.both("致电展厅", "Call the showroom"),
        visit_title=landing.both("展厅地址", "Visit us"),
        address=address,
        extra_lines=landing.extra_lines(data),
        hours_title=landing.both("营业时间", "Opening hours"),
        opening_hours=landing.opening_hours(data),
        holidays=landing.holidays(data, day),
        contact_title=landing.both("联系电话", "Phone"),
        phone_href=phone_href,
        phone_text=phone_text,
        contact_note=landing.both(
            "营业时间内欢迎来电，其他时间请在线留言。",
            "Call us during opening hours, or leave a message in the chat any time.",
        ),
        offers_title=landing.both("当前优惠", "Current offers"),
        offers=landing.offers(data, day),
        offers_note=landing.both(
            "优惠以展厅确认为准，详情请咨询销售顾问。",
            "Offers are subject to confirmation in the showroom; ask a sales consultant.",
        ),
        footer=landing.both(f"© {day.year} {name}", f"© {day.year} {name_en}"),
        config=_js(config),
    )


def create_app(settings: Settings, engine: Engine) -> Starlette:
    dealer = load_dealer_data(settings.dealer_data_path)  # a broken file stops the start
    session_key = settings.effective_webchat_session_key()
    pages: dict[date, str] = {}  # the page of the dealer's day (the offers valid then)

    def page_of_today() -> str:
        day = datetime.now(settings.timezone).date()
        if day not in pages:
            pages.clear()
            pages[day] = render_page(settings, dealer, day)
        return pages[day]

    page_of_today()
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
                db = functools.partial(job_runtime.in_thread, sessions)
                line = PhoneLine.from_settings(settings, db)
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
                            line,
                        ),
                        consultants=job_channels.consultant_channel(settings, bot),
                        quiet=QuietHours(
                            settings.timezone, settings.quiet_hours_start, settings.quiet_hours_end
                        ),
                        surveys=surveys,
                        report=job_channels.managers_report(telegram),
                        phone=line,
                    )
                )
                handoff_jobs.configure(telegram)
                ticket_jobs.configure(telegram)
                follow_up_jobs.configure(telegram, settings)
                reminders.schedule_sync(scheduler)
                proactive.schedule_retries(scheduler)
                call_jobs.schedule(scheduler)
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
        return HTMLResponse(
            page_of_today(), headers={"Cache-Control": "no-cache", **SECURITY_HEADERS}
        )

    async def web_session(request: Request) -> Response:
        """A fresh web chat session id, signed for Rasa's socket.io channel (channels/)."""
        return JSONResponse(
            {"session_id": webchat_sessions.issue(session_key)},
            headers={"Cache-Control": "no-store", **SECURITY_HEADERS},
        )

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
            Route("/session", web_session),
            Route("/healthz", healthz),
            Route(telegram_side.WEBHOOK_PATH, telegram_side.webhook, methods=["POST"]),
            Route("/internal/relay/inbound", telegram_side.relay_inbound, methods=["POST"]),
            Route(phone_status.PATH, phone_status.call_status, methods=["POST"]),
            Route("/media/{name}", telegram_side.media),
            Mount("/static/webchat", StaticFiles(directory=paths.WEBCHAT_JS.parent)),
        ],
        lifespan=lifespan,
    )
    app.state.scheduler = scheduler
    app.state.settings = settings
    app.state.telegram = None
    return app
