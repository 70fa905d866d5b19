"""No personal data in log lines: phones, e-mail addresses and URL secrets are masked in every
record a process makes, third-party libraries and tracebacks included."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from crm_bridge import logsafe
from crm_bridge.db import build_engine


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("notice: 刘洋 13522223333 wants an A6L", "notice: 刘洋 [phone] wants an A6L"),
        ("phone +86 135 2222 3333.", "phone [phone]."),
        ("138-0013-8000 / 010-6552 9988", "[phone] / [phone]"),
        ("write to a.b+c@example.com", "write to [email]"),
        ("POST http://127.0.0.1:5005/conversations/c1/trigger_intent?token=s3cr3t-_x&x=1",
         "POST http://127.0.0.1:5005/conversations/c1/trigger_intent?token=[secret]&x=1"),
        ("postgresql+psycopg://dealer:pa55@db/dealer", "postgresql+psycopg://dealer:[secret]@db/dealer"),
    ],
)  # fmt: skip
def test_redact(line: str, expected: str) -> None:
    assert logsafe.redact(line) == expected


@pytest.mark.parametrize(
    "line",
    ["booking 12 at 2026-12-05T10:00:00+08:00, 3 of 5", "2026-12-01 02:00:24 INFO started",
     "rasa 3.6.21 on port 5005, 123456 events", ""],
)  # fmt: skip
def test_what_is_not_personal_stays_readable(line: str) -> None:
    assert logsafe.redact(line) == line


@pytest.fixture
def redacting() -> Iterator[None]:
    before = logging.getLogRecordFactory()
    logsafe._installed = False
    logsafe.redact_logs()
    try:
        yield
    finally:
        logging.setLogRecordFactory(before)
        logsafe._installed = False


def test_every_logger_and_traceback_is_masked(
    redacting: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").info("HTTP Request: POST %s", "http://x/y?token=abc")
        logging.getLogger("bot.jobs.reminders").info(
            "notice for %s: %s", "王经理", "张伟 13800138000"
        )
        try:
            raise ValueError("could not reach 13800138000")
        except ValueError:
            logging.getLogger("actions").exception("failed for %s", "me@example.com")
    output = caplog.text
    assert "abc" not in output
    assert "13800138000" not in output
    assert "me@example.com" not in output
    assert "[phone]" in output
    assert "ValueError: could not reach [phone]" in output


def _duplicate_error(engine: Engine) -> str:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE people (phone VARCHAR(20) UNIQUE)"))
        connection.execute(text("INSERT INTO people VALUES ('13800138000')"))
    with pytest.raises(IntegrityError) as error, engine.begin() as connection:
        connection.execute(text("INSERT INTO people VALUES (:p)"), {"p": "13800138000"})
    engine.dispose()
    return str(error.value)


def test_database_errors_do_not_quote_the_values(tmp_path: Path) -> None:
    """SQLAlchemy puts a failed statement's parameters in the error text; not with our engines."""
    assert "13800138000" in _duplicate_error(create_engine("sqlite://"))  # SQLAlchemy's default
    ours = _duplicate_error(build_engine(f"sqlite:///{tmp_path / 'people.db'}"))
    assert "UNIQUE constraint failed" in ours
    assert "13800138000" not in ours


def test_uvicorns_access_lines_keep_their_fields(redacting: None) -> None:
    """uvicorn's access formatter reads the client, method, path and status from the record's
    arguments; the redaction masks them without taking them away."""
    from uvicorn.logging import AccessFormatter

    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/media/x?token=abc&phone=13800138000", "1.1", 200), None,
    )  # fmt: skip
    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s").format(record)
    assert line.startswith("127.0.0.1:5000 GET /media/x?token=[secret]")
    assert "13800138000" not in line
    assert line.endswith(" 200 OK")
