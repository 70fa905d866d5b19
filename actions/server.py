"""The action server: settings, database and actions are built here, at start-up."""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from actions.base import Services
from actions.registry import build_actions
from actions.transcripts import Transcripts
from crm_bridge.db import SessionFactory, build_engine, build_session_factory
from crm_bridge.logsafe import redact_logs
from crm_bridge.outbox import Outbox
from crm_bridge.settings import Settings, keep_private
from crm_bridge.sms import TwilioSms

logger = logging.getLogger(__name__)


# How often writes kept while the database was down are retried.
DRAIN_INTERVAL_S = 3.0
# Paths anyone may call: the health check tells nothing about customers.
OPEN_PATHS = frozenset({"/health"})


def build_services(settings: Settings) -> Services:
    """Database, outbox and tracker store connections for the actions."""
    sessions = build_session_factory(build_engine(settings.effective_database_url))
    transcripts = Transcripts(build_engine(settings.effective_tracker_store_url))
    return Services(
        settings=settings,
        sessions=sessions,
        outbox=erasing_outbox(settings, sessions, transcripts),
        transcripts=transcripts,
        sms=TwilioSms.from_settings(settings),
    )


def erasing_outbox(
    settings: Settings, sessions: SessionFactory, transcripts: Transcripts
) -> Outbox:
    """The outbox whose erasures also redact the transcripts, when written (now or later)."""

    def redact_transcripts(result: object) -> None:
        if isinstance(result, dict):
            transcripts.redact(result.get("senders") or [])

    return Outbox(
        settings.outbox_path,
        sessions,
        erasure_key=settings.effective_erasure_key(),
        after={"privacy.erase": redact_transcripts},
    )


def build_app(services: Services, token: str) -> Sanic:  # type: ignore[type-arg]
    """The actions behind ``token``: Rasa sends it (``Authorization: Bearer``), others get 401."""
    executor = ActionExecutor()
    for action in build_actions(services):
        executor.register_action(action)
    app: Sanic = create_app(executor, cors_origins=None)  # type: ignore[type-arg]
    expected = f"Bearer {token}".encode()

    @app.on_request
    async def only_rasa(request: Request) -> HTTPResponse | None:
        """Refuse every call that does not carry the shared secret."""
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get("authorization") or "").encode()
        if hmac.compare_digest(given, expected):
            return None
        logger.warning("refused a call to %s without the action server token", request.path)
        return json({"error": "unauthorized"}, status=401)

    async def drain_outbox() -> None:
        """Write what was kept while the database was down, as soon as it is back."""
        while True:
            await asyncio.sleep(DRAIN_INTERVAL_S)
            try:
                if await asyncio.to_thread(services.outbox.pending):
                    await asyncio.to_thread(services.outbox.drain)
            except Exception:  # the loop must outlive any one failure
                logger.exception("draining the outbox failed")

    @app.after_server_start
    async def start_draining(app: Sanic, _loop: object) -> None:  # type: ignore[type-arg]
        app.add_task(drain_outbox(), name="drain_outbox")

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Dealer Assistant action server")
    parser.add_argument("--port", type=int, default=None, help="default: ACTIONS_PORT or 5055")
    parser.add_argument("--host", default=None, help="default: ACTIONS_HOST or 127.0.0.1")
    args = parser.parse_args(argv)

    redact_logs()
    settings = Settings()
    keep_private(settings.var_dir)
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    app = build_app(build_services(settings), settings.effective_actions_token())
    app.run(
        host=args.host or settings.actions_host,
        port=args.port or settings.actions_port,
        single_process=True,
        access_log=False,
        motd=False,
    )
