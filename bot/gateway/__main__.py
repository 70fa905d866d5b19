"""`python -m bot.gateway`: the gateway on GATEWAY_PORT (8080)."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from bot.gateway.app import create_app
from crm_bridge.db import build_engine
from crm_bridge.logsafe import redact_logs
from crm_bridge.settings import Settings, keep_private


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
