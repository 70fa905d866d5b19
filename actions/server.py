"""The action server: settings, database and actions are built here, at start-up."""

from __future__ import annotations

import argparse
import logging

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic

from actions.base import Services
from actions.registry import build_actions
from crm_bridge.db import build_engine, build_session_factory
from crm_bridge.settings import Settings


def build_app(services: Services) -> Sanic:  # type: ignore[type-arg]
    executor = ActionExecutor()
    for action in build_actions(services):
        executor.register_action(action)
    app: Sanic = create_app(executor, cors_origins=None)  # type: ignore[type-arg]
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Dealer Assistant action server")
    parser.add_argument("--port", type=int, default=None, help="default: ACTIONS_PORT or 5055")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    engine = build_engine(settings.effective_database_url)
    services = Services(settings=settings, sessions=build_session_factory(engine))
    app = build_app(services)
    app.run(
        host=args.host,
        port=args.port or settings.actions_port,
        single_process=True,
        access_log=False,
        motd=False,
    )
