"""Alembic environment: online migrations only, batch mode so SQLite can alter tables."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

from crm_bridge.db import build_engine
from crm_bridge.models import Base
from crm_bridge.settings import Settings
from crm_bridge.types import UTCDateTime

config = context.config
# Tables owned by other components (APScheduler's job store creates its own).
FOREIGN_TABLES = {"apscheduler_jobs"}


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return not (type_ == "table" and name in FOREIGN_TABLES)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Revisions use plain SQLAlchemy types, never the application's own."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or Settings().effective_database_url
    engine = build_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,
            compare_type=True,
            include_object=include_object,
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
