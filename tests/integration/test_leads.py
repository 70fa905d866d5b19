"""First contact to qualified lead, end to end: the REST channel, the trained model, the action
server and the dealership database, checked through `dealer-assistant leads export`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from crm_bridge.db import build_engine, build_session_factory
from crm_bridge.models import Conversation, Customer
from tests.conftest import make_settings
from tests.integration.stack import Stack, cli, export, free_port, running_stack

pytestmark = pytest.mark.integration

DEALER = "测试奥迪中心"
LEAD_FIELDS = {
    "id", "created_at", "updated_at", "channel", "language", "name", "phone", "email",
    "model_interest", "budget_cny_max", "purchase_timeline_days", "level", "payment", "trade_in",
    "trade_in_vehicle", "status", "consultant", "consent",
}  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = make_settings(
        tmp_path_factory.mktemp("leads"),
        rasa_port=free_port(),
        actions_port=free_port(),
        gateway_port=free_port(),
        dealer_name=DEALER,
        dealer_name_en="Test Audi Centre",
    )
    with running_stack(settings) as running:
        yield running


def lead_of(stack: Stack, phone: str) -> dict[str, Any]:
    [lead] = [r for r in export(stack, "leads") if r["phone"] == phone]
    assert set(lead) == LEAD_FIELDS
    # Timestamps are in the dealer's time zone, with the offset.
    for stamp in (lead.pop("created_at"), lead.pop("updated_at")):
        assert datetime.fromisoformat(stamp).utcoffset() is not None
    lead.pop("id")
    return lead


def chat(stack: Stack, sender: str, *turns: str) -> list[list[str]]:
    """Say each turn; every turn must be answered."""
    replies = []
    for turn in turns:
        said = stack.texts(sender, turn)
        assert said, f"no answer to {turn!r}:\n{stack.log_tail()}"
        replies.append(said)
    return replies


def new_sender(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_chinese_first_contact_to_qualified_lead(stack: Stack) -> None:
    sender = new_sender("zh")
    greeting, first, consent, question, timeline, payment, trade_in, car, correction = chat(
        stack, sender,
        "你好",
        "我叫张伟，电话13800138000，想看Q5L，预算40万",
        "同意",
        "Q5L油耗多少",
        "两周内吧",
        "贷款",
        "有",
        "一台2016年的帕萨特",
        "不对，预算是35万",
    )  # fmt: skip
    assert DEALER in greeting[0]
    assert "试驾" in greeting[0]
    # Four slots from one message: nothing is asked again, consent comes first.
    assert "隐私说明" in first[-1]
    assert DEALER in first[-1]
    assert consent[-1] == "您大概打算什么时候购车？"
    assert "油耗" in question[0]
    assert question[-1] == "您大概打算什么时候购车？"
    assert timeline == ["您倾向哪种付款方式？"]
    assert payment == ["您有旧车需要置换吗？"]
    assert "什么车" in trade_in[0]
    assert "+8613800138000" in car[-2]
    assert "Q5L" in car[-2]
    # Buying within two weeks is an A lead: a consultant takes over (the showroom is open or
    # not, depending on when the test runs).
    assert "销售顾问" in car[-1]
    assert "35万元" in " ".join(correction)
    assert lead_of(stack, "+8613800138000") == {
        "channel": "rest", "language": "zh", "name": "张伟", "phone": "+8613800138000",
        "email": None, "model_interest": ["Q5L"], "budget_cny_max": 350000,
        "purchase_timeline_days": 14, "level": "A", "payment": "loan", "trade_in": True,
        "trade_in_vehicle": "2016年的帕萨特", "status": "handed_off", "consultant": None,
        "consent": True,
    }  # fmt: skip


def test_english_callback_request_to_qualified_lead(stack: Stack) -> None:
    sender = new_sender("en")
    replies = chat(
        stack, sender,
        "Hi there",
        "Could a sales consultant call me back about the Q7?",
        "around 800k",
        "within a month",
        "lease",
        "no",
        "yes, that's fine",
        "Michael Chen",
        "+86 139 1234 5678",
    )  # fmt: skip
    assert "consultant" in replies[1][0]
    assert replies[1][-1].startswith("What budget")
    assert replies[3] == ["How would you like to pay?"]
    assert "Privacy notice" in replies[5][-1]
    assert replies[7] == ["Which mobile number can our consultant reach you on?"]
    assert "+8613912345678" in replies[8][-2]
    assert "consultant" in replies[8][-1]  # asked for a person: handed off
    assert lead_of(stack, "+8613912345678") == {
        "channel": "rest", "language": "en", "name": "Michael Chen", "phone": "+8613912345678",
        "email": None, "model_interest": ["Q7"], "budget_cny_max": 800000,
        "purchase_timeline_days": 30, "level": "B", "payment": "lease", "trade_in": False,
        "trade_in_vehicle": None, "status": "handed_off", "consultant": None, "consent": True,
    }  # fmt: skip


def test_a_customer_who_declines_is_helped_and_nothing_is_stored(stack: Stack) -> None:
    sender = new_sender("decline")
    before = export(stack, "leads")
    replies = chat(
        stack, sender,
        "我姓王，电话13711112222，想了解一下Q3",
        "不同意",
        "25万左右",
        "半年内",
        "全款",
        "没有",
        "Q3多少钱",
    )  # fmt: skip
    assert "不会保存" in replies[1][0]
    assert "个人信息不会被保存" in replies[5][-1]
    assert any("Q3" in r for r in replies[6])
    assert export(stack, "leads") == before
    engine = build_engine(stack.settings.effective_database_url)
    with build_session_factory(engine)() as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.sender_id == sender)
        ).one()
        assert conversation.customer_id is None
        assert (
            session.scalars(select(Customer).where(Customer.phone == "+8613711112222")).all() == []
        )
    engine.dispose()
    # What was volunteered before the no is gone from the stored transcript too.
    stored = stack.transcript(sender)
    assert stored
    assert not any("13711112222" in row for row in stored)
    assert any("Q3" in row for row in stored)  # the rest of the conversation stays


@pytest.mark.parametrize(
    "message",
    ["", "   ", "买车" * 5_000, "😀😀😀🚗🚗", "<script>alert('x')</script>",
     "'; DROP TABLE leads; --", "\x00\x01\x02"],
)  # fmt: skip
def test_odd_messages_get_an_answer(stack: Stack, message: str) -> None:
    sender = new_sender("odd")
    assert chat(stack, sender, message)
    assert chat(stack, sender, "你好")  # and the conversation goes on


def test_bad_names_and_phones_are_re_asked_and_not_stored(stack: Stack) -> None:
    sender = new_sender("bad")
    replies = chat(
        stack, sender,
        "想看A6L，预算50万，一个月内买，全款，没有旧车",
        "同意",
        "<script>alert(1)</script>",
        "Robert'); DROP TABLE customers;--",
        "李娜",
        "12345",
        "1380013800",
        "13800009999",
    )  # fmt: skip
    assert replies[1] == ["谢谢您的信任！", "请问您怎么称呼？"]
    assert "不像姓名" in replies[2][0]
    assert replies[2][-1] == "请问您怎么称呼？"
    # Whatever the NLU makes of it, the SQL-looking text is answered and the name asked again.
    assert replies[3][-1] == "请问您怎么称呼？"
    assert replies[4] == ["方便留一个手机号吗？销售顾问会通过它联系您。"]
    assert "号码好像不对" in replies[5][0]
    assert "号码好像不对" in replies[6][0]
    assert "跳过" in replies[6][1]  # explained, and offered to skip
    lead = lead_of(stack, "+8613800009999")
    assert (lead["name"], lead["model_interest"], lead["budget_cny_max"]) == (
        "李娜",
        ["A6L"],
        500000,
    )
    assert (lead["purchase_timeline_days"], lead["level"], lead["status"]) == (30, "B", "qualified")
    names = {r["name"] for r in export(stack, "leads")}
    assert not any(name and ("<" in name or "DROP" in name) for name in names)


def test_opt_out_and_erasure(stack: Stack) -> None:
    sender = new_sender("privacy")
    chat(
        stack, sender,
        "我是陈静，手机13655554444，想看Q4 e-tron，下个月买",
        "同意",
    )  # fmt: skip
    assert lead_of(stack, "+8613655554444")["name"] == "陈静"
    [opted] = chat(stack, sender, "退订")
    assert "退订" in opted[0]
    engine = build_engine(stack.settings.effective_database_url)
    with build_session_factory(engine)() as session:
        customer = session.scalars(select(Customer).where(Customer.phone == "+8613655554444")).one()
        assert customer.opted_out_at is not None
        customer_id = customer.id
    before = len(export(stack, "leads"))
    confirm, erased = chat(stack, sender, "删除我的个人信息", "确定删除")
    assert "无法恢复" in confirm[0]
    assert "已删除" in erased[0]
    with build_session_factory(engine)() as session:
        gone = session.get(Customer, customer_id)
        assert gone is not None
        assert (gone.name, gone.phone, gone.erased_at is not None) == (None, None, True)
    engine.dispose()
    leads = export(stack, "leads")
    assert len(leads) == before  # the anonymous count stays
    [lead] = [r for r in leads if r["model_interest"] == ["Q4 e-tron"] and r["name"] is None]
    assert (lead["phone"], lead["consent"], lead["purchase_timeline_days"]) == (None, False, 30)
    # The transcript in Rasa's tracker store no longer holds what was said.
    stored = stack.transcript(sender)
    assert stored
    assert not any("13655554444" in row or "陈静" in row for row in stored)


def test_a_data_request_at_the_desk_shows_erases_and_audits_a_number(stack: Stack) -> None:
    """PIPL: the customer asks in person; afterwards the number appears nowhere."""
    sender = new_sender("desk")
    chat(stack, sender, "你好", "我叫林小雨，电话139 1111 2222，想看A6L，预算50万", "同意",
         "一个月内")  # fmt: skip
    shown = cli(stack, "customers", "show", "13911112222")
    assert shown.returncode == 0, shown.stderr
    held = json.loads(shown.stdout)
    assert held["customer"]["name"] == "林小雨"
    assert held["customer"]["phone"] == "+8613911112222"
    assert held["leads"][0]["model_interest"] == ["A6L"]
    assert [c["sender_id"] for c in held["conversations"]] == [sender]
    before = cli(stack, "customers", "audit", "+86 139-1111-2222")
    assert before.returncode == 1
    assert "customers.phone: 1 row(s)" in before.stdout
    assert "tracker store: events.data" in before.stdout

    erased = cli(stack, "customers", "erase", "13911112222")
    assert erased.returncode == 0, erased.stdout + erased.stderr
    assert "erased +8613911112222" in erased.stdout
    audit = cli(stack, "customers", "audit", "13911112222")
    assert (audit.returncode, audit.stdout.strip()) == (0, "+8613911112222 appears nowhere")
    assert cli(stack, "customers", "show", "13911112222").returncode == 1
    assert not [r for r in export(stack, "leads") if r["name"] == "林小雨"]
    assert cli(stack, "customers", "show", "not a number").returncode == 2
