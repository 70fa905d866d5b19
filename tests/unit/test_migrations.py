"""Alembic revisions on SQLite and PostgreSQL: up, down, up again, and in step with the models."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from crm_bridge import migrate
from crm_bridge.db import build_engine
from crm_bridge.models import Base
from crm_bridge.settings import PROJECT_ROOT


def _tables(url: str) -> set[str]:
    engine = build_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    # `database_url` is already at head.
    assert {"conversations", "alembic_version"} <= _tables(database_url)
    migrate.downgrade(database_url, "base")
    assert _tables(database_url) == {"alembic_version"}
    migrate.upgrade(database_url)
    assert "conversations" in _tables(database_url)


def test_models_match_the_migrations(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_migration_files_use_plain_types() -> None:
    # Revisions must not import application types: they have to keep working when those change.
    for path in (PROJECT_ROOT / "crm_bridge" / "migrations" / "versions").glob("*.py"):
        assert "crm_bridge" not in path.read_text(encoding="utf-8"), path.name


def test_upgrade_creates_the_sqlite_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'dealer.db'}"
    migrate.upgrade(url)
    assert "conversations" in _tables(url)
