"""The `dealer-assistant` console script, run as a user would."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from crm_bridge.db import build_engine

CLI = str(Path(sys.executable).parent / "dealer-assistant")


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_db_upgrade_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = _run("db", "upgrade", env={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    engine = build_engine(url)
    assert "conversations" in inspect(engine).get_table_names()
    engine.dispose()


def test_db_upgrade_on_postgresql(postgres_database: str) -> None:
    result = _run("db", "upgrade", env={"DATABASE_URL": postgres_database})
    assert result.returncode == 0, result.stderr
    engine = build_engine(postgres_database)
    assert "conversations" in inspect(engine).get_table_names()
    engine.dispose()
    current = _run("db", "current", env={"DATABASE_URL": postgres_database})
    assert "(head)" in current.stdout + current.stderr


def test_data_load_validates_and_loads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert _run("db", "upgrade", env={"DATABASE_URL": url}).returncode == 0
    result = _run("data", "load", env={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert "14 models" in result.stdout
    broken = tmp_path / "broken.yml"
    broken.write_text("version: 1\ncatalog: []\n", encoding="utf-8")
    refused = _run("data", "load", "--file", str(broken), env={"DATABASE_URL": url})
    assert refused.returncode == 2
    assert "dealer" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_bad_configuration_is_reported_not_a_traceback(tmp_path: Path) -> None:
    result = _run("db", "upgrade", env={"DEALER_TIMEZONE": "Nowhere/Land"})
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands() -> None:
    result = _run("--help", env={})
    assert result.returncode == 0
    for command in ("run", "train", "db", "data"):
        assert command in result.stdout


def test_leads_list_puts_the_hottest_first(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from crm_bridge import migrate
    from crm_bridge.catalog import load_dealer_data_into
    from crm_bridge.db import build_session_factory, transaction
    from crm_bridge.dealer_data import load_dealer_data
    from crm_bridge.leads import LeadUpdate, record_lead

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    engine = build_engine(url)
    at = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    with transaction(build_session_factory(engine)) as session:
        load_dealer_data_into(session, load_dealer_data())
        for sender, phone, days in (("a", "+8613800000001", 90), ("b", "+8613800000002", 5)):
            update = LeadUpdate(consent=True, phone=phone, name="王<b>芳</b>",
                                model_interest=["Q5L"], purchase_timeline_days=days)  # fmt: skip
            record_lead(session, sender, update, "cli-test", at)
    engine.dispose()
    result = _run("leads", "list", env={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    header, first, second = result.stdout.splitlines()
    assert header.split()[:3] == ["id", "level", "status"]
    assert first.split()[:5] == ["2", "H", "qualified", "王<b>芳</b>", "+8613800000002"]
    assert second.split()[:3] == ["1", "C", "qualified"]
