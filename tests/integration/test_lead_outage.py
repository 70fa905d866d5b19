"""The dealership database goes away in the middle of a conversation: the customer is still
answered, and the lead arrives once the database is back (PostgreSQL behind a TCP proxy)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from crm_bridge import identity
from crm_bridge.db import SessionFactory, build_engine, build_session_factory, transaction
from crm_bridge.exports import lead_records
from crm_bridge.models import Customer
from crm_bridge.settings import Settings
from crm_bridge.types import utcnow
from tests.conftest import make_settings
from tests.integration.proxy import TcpProxy
from tests.integration.stack import free_port, running_stack

pytestmark = pytest.mark.integration


@contextmanager
def behind_proxy(
    postgres_database: str, folder: Path
) -> Iterator[tuple[TcpProxy, Settings, SessionFactory]]:
    """Settings whose dealership database is reached through a TCP proxy the test can cut, and
    sessions that reach it directly."""
    direct = make_url(postgres_database)
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
    proxy.up()
    through_proxy = direct.set(host="127.0.0.1", port=proxy.port)
    engine = build_engine(postgres_database)
    try:
        yield (
            proxy,
            make_settings(
                folder,
                database_url=through_proxy.render_as_string(hide_password=False),
                rasa_port=free_port(),
                actions_port=free_port(),
                gateway_port=free_port(),
            ),
            build_session_factory(engine),
        )
    finally:
        proxy.down()
        engine.dispose()


def test_a_lead_written_while_the_database_is_down_arrives_later(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sender = "outage-1"
    folder = tmp_path_factory.mktemp("outage")
    with (
        behind_proxy(postgres_database, folder) as (proxy, settings, sessions),
        running_stack(settings) as stack,
    ):
        assert stack.texts(sender, "你好")
        first = stack.texts(sender, "我叫刘洋，电话13522223333，想看A6L，预算45万")
        assert "隐私说明" in first[-1]

        proxy.down()  # the database is gone
        consent = stack.texts(sender, "同意")
        assert consent[-1] == "您大概打算什么时候购车？", stack.log_tail()
        timeline = stack.texts(sender, "一周内")
        assert timeline == ["您倾向哪种付款方式？"], stack.log_tail()
        with sessions() as session:
            assert lead_records(session, settings.timezone) == []

        proxy.up()  # and back
        deadline = time.monotonic() + 60
        while True:
            with sessions() as session:
                records = lead_records(session, settings.timezone)
            if records or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert records, stack.log_tail()
        [lead] = records
        assert (lead["name"], lead["phone"], lead["model_interest"]) == (
            "刘洋", "+8613522223333", ["A6L"],
        )  # fmt: skip
        assert (lead["budget_cny_max"], lead["purchase_timeline_days"]) == (450000, 7)
        assert (lead["level"], lead["status"], lead["consent"]) == ("H", "qualified", True)
        # And the conversation goes on normally once the database is back.
        assert stack.texts(sender, "贷款") == ["您有旧车需要置换吗？"]
        with sessions() as session:
            [lead] = lead_records(session, settings.timezone)
        assert lead["payment"] == "loan"
        # The outage was logged (kept writes, retries) without the customer's data.
        logs = "\n".join(log.read_text(errors="replace") for log in stack.logs.glob("*.log"))
        assert "kept for later" in logs
        for personal in ("13522223333", "135 2222 3333", "刘洋"):
            assert personal not in logs


def test_an_erasure_asked_while_the_database_is_down_completes_when_it_is_back(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The customer is told the erasure is recorded; once the database is back their record is
    erased and so are the transcripts of every conversation linked to them."""
    web, telegram, phone = "erase-web", "erase-tg", "+8613611112222"
    folder = tmp_path_factory.mktemp("erase-outage")
    with (
        behind_proxy(postgres_database, folder) as (proxy, settings, sessions),
        running_stack(settings) as stack,
    ):
        stack.texts(web, "我叫周杰，电话13611112222，想看Q5L，一个月内买")
        stack.texts(web, "同意")
        stack.texts(telegram, "你好，我叫周杰，手机136 1111 2222，对A6L有兴趣")
        stack.texts(telegram, "同意")
        with transaction(sessions) as session:  # the web chat proved the number is its own
            identity.verify_phone(session, web, phone, "telegram_contact", utcnow())

        proxy.down()
        assert "无法恢复" in stack.texts(web, "删除我的个人信息")[0]
        queued = stack.texts(web, "确定删除")
        assert "删除请求已记录" in queued[0], stack.log_tail()

        proxy.up()
        deadline = time.monotonic() + 60
        while True:
            with sessions() as session:
                left = session.scalars(select(Customer).where(Customer.phone == phone)).all()
            stored = stack.transcript(web, telegram)
            mentions = [
                row for row in stored
                if any(p in row for p in ("13611112222", "136 1111 2222", "周杰"))
            ]  # fmt: skip
            if (not left and not mentions) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert left == [], stack.log_tail()
        assert mentions == [], stack.log_tail()
        with sessions() as session:
            erased = session.scalars(select(Customer).where(Customer.erased_at.is_not(None))).all()
            assert [(c.name, c.phone) for c in erased] == [(None, None)]
