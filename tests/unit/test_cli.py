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
    for command in ("run", "train", "db", "data", "leads", "bookings", "surveys"):
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


def _bookings_database(tmp_path: Path) -> tuple[str, int, int]:
    """A database with a test drive long past and one far ahead (whatever today is)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from crm_bridge import bookings, migrate
    from crm_bridge.catalog import load_dealer_data_into
    from crm_bridge.db import build_session_factory, transaction
    from crm_bridge.dealer_data import load_dealer_data

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    engine = build_engine(url)
    zone = ZoneInfo("Asia/Shanghai")
    ids = []
    with transaction(build_session_factory(engine)) as session:
        load_dealer_data_into(session, load_dealer_data())
        for year, phone in ((2020, "+8613800138000"), (2099, "+8613900139000")):
            now = datetime(year, 1, 1, 8, 0, tzinfo=zone)
            [slot] = bookings.free_slots(session, "Q5L", zone, now, limit=1)
            booking = bookings.book(
                session, model_code="Q5L", start=slot.start, zone=zone, now=now, source="cli-test",
                sender_id=f"s{year}", channel="web", language="zh", customer_name="张伟",
                phone=phone,
            )  # fmt: skip
            ids.append(booking.id)
    engine.dispose()
    return url, ids[0], ids[1]


def test_bookings_export_and_list(tmp_path: Path) -> None:
    import json

    from crm_bridge.bookings import BOOKING_FIELDS

    url, past, future = _bookings_database(tmp_path)
    exported = _run("bookings", "export", "--format", "json", env={"DATABASE_URL": url})
    assert exported.returncode == 0, exported.stderr
    records = json.loads(exported.stdout)
    assert [r["id"] for r in records] == [past, future]
    assert all(list(r) == list(BOOKING_FIELDS) for r in records)
    assert records[0]["start"].startswith("2020-01-01T09:00:00+08:00")
    upcoming = _run("bookings", "list", env={"DATABASE_URL": url})
    assert upcoming.returncode == 0, upcoming.stderr
    header, *rows = upcoming.stdout.splitlines()
    assert header.split()[:5] == ["id", "start", "end", "model", "status"]
    assert [row.split()[:2] for row in rows] == [[str(future), "2099-01-01"]]
    assert "张伟" in rows[0]
    everything = _run("bookings", "list", "--all", env={"DATABASE_URL": url})
    assert [row.split()[0] for row in everything.stdout.splitlines()[1:]] == [
        str(past), str(future),
    ]  # fmt: skip


def test_bookings_mark_records_the_outcome_or_says_why_not(tmp_path: Path) -> None:
    import json

    url, past, future = _bookings_database(tmp_path)
    env = {"DATABASE_URL": url}
    refusals = {
        "too early": _run("bookings", "mark", str(future), "completed", env=env),
        "no such booking": _run("bookings", "mark", "999", "completed", env=env),
        "bad outcome": _run("bookings", "mark", str(past), "great", env=env),
    }
    for why, result in refusals.items():
        assert result.returncode == 2, why
        assert "Traceback" not in result.stderr, why
    assert "not started" in refusals["too early"].stderr
    assert "no booking with id 999" in refusals["no such booking"].stderr
    assert "invalid choice" in refusals["bad outcome"].stderr
    done = _run("bookings", "mark", str(past), "completed", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"booking {past} (Q5L, 2020-01-01 09:00, 张伟) marked completed; "
        "post-test-drive survey scheduled"
    )
    again = _run("bookings", "mark", str(past), "no_show", env=env)
    assert again.returncode == 2
    assert "is completed" in again.stderr
    surveys = _run("surveys", "export", "--format", "json", env=env)
    assert surveys.returncode == 0, surveys.stderr
    [survey] = json.loads(surveys.stdout)
    assert (survey["kind"], survey["customer"], survey["phone"]) == (
        "post_test_drive", "张伟", "+8613800138000",
    )  # fmt: skip
    exported = json.loads(_run("bookings", "export", env=env).stdout)
    assert [r["status"] for r in exported] == ["completed", "booked"]


def test_files_under_var_are_for_their_owner_only(tmp_path: Path) -> None:
    """Even under a permissive umask, and for files an earlier version left readable by all."""
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    old = var / "tracker.db"
    old.write_text("an earlier transcript")
    old.chmod(0o644)
    result = subprocess.run(
        [CLI, "db", "upgrade"], env={**os.environ, "VAR_DIR": str(var)}, capture_output=True,
        text=True, timeout=120, preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (var / "dealer.db").exists()  # created by this command
    for path in (var, *var.rglob("*")):
        assert path.stat().st_mode & 0o077 == 0, path
