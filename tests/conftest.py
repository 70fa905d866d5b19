"""Shared fixtures: settings in a temporary folder, migrated databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from actions.base import Services
from actions.server import erasing_outbox
from actions.transcripts import Transcripts
from crm_bridge import migrate
from crm_bridge.db import SessionFactory, build_engine, build_session_factory
from crm_bridge.settings import Settings
from crm_bridge.sms import TwilioSms

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL")


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"var_dir": tmp_path / "var"}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def make_services(
    settings: Settings, sessions: SessionFactory, clock: Callable[[], datetime] | None = None
) -> Services:
    """The actions' services on a test database, with a real outbox and tracker store."""
    transcripts = Transcripts(build_engine(settings.effective_tracker_store_url))
    return Services(
        settings=settings,
        sessions=sessions,
        outbox=erasing_outbox(settings, sessions, transcripts),
        transcripts=transcripts,
        sms=TwilioSms.from_settings(settings),
        **({"clock": clock} if clock else {}),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database created for one test and dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set (PostgreSQL not available)")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"da_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'dealer.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    migrate.upgrade(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> SessionFactory:
    return build_session_factory(engine)
