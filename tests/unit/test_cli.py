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
