"""The dealership database goes away in the middle of a conversation: the customer is still
answered, and the lead arrives once the database is back (PostgreSQL behind a TCP proxy)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import make_url

from crm_bridge.db import build_engine, build_session_factory
from crm_bridge.exports import lead_records
from tests.conftest import make_settings
from tests.integration.proxy import TcpProxy
from tests.integration.stack import free_port, running_stack

pytestmark = pytest.mark.integration


def test_a_lead_written_while_the_database_is_down_arrives_later(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    direct = make_url(postgres_database)
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
    proxy.up()
    through_proxy = direct.set(host="127.0.0.1", port=proxy.port)
    settings = make_settings(
        tmp_path_factory.mktemp("outage"),
        database_url=through_proxy.render_as_string(hide_password=False),
        rasa_port=free_port(),
        actions_port=free_port(),
        gateway_port=free_port(),
    )
    engine = build_engine(postgres_database)
    sessions = build_session_factory(engine)
    sender = "outage-1"
    try:
        with running_stack(settings) as stack:
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
    finally:
        proxy.down()
        engine.dispose()
