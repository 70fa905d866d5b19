"""Whose data is whose, end to end (REST channel, trained model, action server, database, Rasa's
tracker store): a conversation keeps its customer across Rasa sessions; another conversation
that types the customer's number cannot read, move, cancel or erase anything of theirs until it
types back the code sent by SMS to that number (the provider is a local stub of its API)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm_bridge.db import build_engine, build_session_factory
from crm_bridge.models import Booking, Customer
from tests.conftest import make_settings
from tests.integration.stack import Stack, free_port, running_stack
from tests.sms_stub import SmsStub, running_sms_stub

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sms() -> Iterator[SmsStub]:
    with running_sms_stub() as stub:
        yield stub


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sms: SmsStub) -> Iterator[Stack]:
    settings = make_settings(
        tmp_path_factory.mktemp("identity"),
        rasa_port=free_port(),
        actions_port=free_port(),
        gateway_port=free_port(),
        **{key.lower(): value for key, value in sms.env().items()},
    )
    with running_stack(settings) as running:
        yield running


def chat(stack: Stack, sender: str, *turns: str) -> list[str]:
    """Say each turn (each must be answered); the replies of the last one."""
    said: list[str] = []
    for turn in turns:
        said = stack.texts(sender, turn)
        assert said, f"no answer to {turn!r}:\n{stack.log_tail()}"
    return said


def someone(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def book(stack: Stack, sender: str, opening: str, when: str, name: str, phone: str) -> list[str]:
    """Book in conversation, answering whatever the form asks; the replies to the confirmation."""
    said = chat(stack, sender, opening, when)
    answers = {
        "隐私": "同意",
        "称呼": name,
        "手机号": phone,
        "驾照": "有驾照",
        "确认预约吗": "确认",
    }
    for _ in range(6):
        answer = next((a for cue, a in answers.items() if cue in said[-1]), None)
        if answer is None:
            break
        said = chat(stack, sender, answer)
        if answer == "确认":
            return said
    raise AssertionError(f"the booking did not reach its confirmation: {said}")


def new_session(stack: Stack, sender: str) -> None:
    """What Rasa does after the session expiry, or when a proactive message opens a session."""
    response = httpx.post(
        f"{stack.rasa_url}/conversations/{sender}/execute",
        params={"token": stack.token},
        json={"name": "action_session_start"},
        timeout=60,
    )
    response.raise_for_status()
    events = httpx.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": stack.token, "include_events": "AFTER_RESTART"},
        timeout=30,
    ).json()["events"]
    assert [e["event"] for e in events].count("session_started") >= 2


def database(stack: Stack) -> Any:
    return build_session_factory(build_engine(stack.settings.effective_database_url))


def status_of(stack: Stack, phone: str) -> list[str]:
    with database(stack)() as session:
        return list(session.scalars(select(Booking.status).where(Booking.phone == phone)))


def test_another_conversation_needs_the_code_before_touching_a_booking(
    stack: Stack, sms: SmsStub
) -> None:
    customer, stranger, prankster = someone("owner"), someone("stranger"), someone("prank")
    booked = book(stack, customer, "我想预约试驾Q5L", "明天下午三点", "赵敏", "13822223333")
    assert "预约成功" in booked[-1], stack.log_tail()
    phone = "+8613822223333"

    # Another chat gives the number: nothing is listed or cancelled; a code goes to the number.
    asked = chat(stack, prankster, "我要取消试驾")
    assert "手机号" in asked[-1], stack.log_tail()
    sent = chat(stack, prankster, "13822223333")
    assert any("尾号3333" in line and "验证码" in line for line in sent), sent
    assert not any("15:00" in line or "Q5L" in line for line in sent)  # nothing read back
    assert "输入验证码" in sent[-1]
    assert len(sms.codes_to(phone)) == 1
    # Without the code: it gives up, and the booking stands.
    stopped = chat(stack, prankster, "算了不弄了")
    assert "没有做任何改动" in stopped[0]
    assert status_of(stack, phone) == ["booked"]
    # Qualifying with the number adds a contact attempt to the lead, never a new name.
    chat(stack, prankster, "我叫李四，电话13822223333，想看A6L", "同意")
    with database(stack)() as session:
        kept = session.scalars(select(Customer).where(Customer.phone == phone)).one()
        assert kept.name == "赵敏"
        [lead] = kept.leads
        assert "A6L" in lead.model_interest
        assert [e.field for e in lead.events if e.kind == "contact"] == ["contact_attempt"]
    # Erasure from that chat erases that chat, never the customer's record, and says so.
    erased = chat(stack, prankster, "删除我的个人信息", "确定删除")
    assert any("尾号3333" in line and "暂时保留" in line for line in erased), erased
    assert "输入验证码" in erased[-1]  # the way to erase the rest: prove the number
    assert "没有做任何改动" in chat(stack, prankster, "不用了")[0]
    with database(stack)() as session:
        kept = session.scalars(select(Customer).where(Customer.phone == phone)).one()
        assert (kept.name, kept.erased_at) == ("赵敏", None)
    assert status_of(stack, phone) == ["booked"]

    # With the code typed back, the booking can be cancelled.
    chat(stack, stranger, "我要取消试驾")
    chat(stack, stranger, "13822223333")
    code = sms.codes_to(phone)[-1]
    wrong = "000000" if code != "000000" else "111111"
    assert "不正确" in chat(stack, stranger, wrong)[0]
    resumed = chat(stack, stranger, code)
    assert "已验证" in resumed[0]
    assert "确定要取消" in resumed[-1], resumed
    assert "已为您取消" in chat(stack, stranger, "确定")[-1]
    assert status_of(stack, phone) == ["cancelled"]
    # No SMS text, code or number reached the logs.
    logs = "\n".join(log.read_text(errors="replace") for log in stack.logs.glob("*.log"))
    assert code not in logs
    assert "13822223333" not in logs


def test_opt_out_and_erasure_after_a_new_session(stack: Stack) -> None:
    """Rasa's session expired (or a reminder opened one): the customer is still found."""
    me = someone("session")
    chat(stack, me, "我是钱多多，手机13933334444，想看A6L，下个月买", "同意")
    new_session(stack, me)
    assert "退订" in chat(stack, me, "退订")[0]
    with database(stack)() as session:
        customer = session.scalars(select(Customer).where(Customer.phone == "+8613933334444")).one()
        assert customer.opted_out_at is not None
        customer_id = customer.id
    new_session(stack, me)
    erased = chat(stack, me, "删除我的个人信息", "确定删除")
    assert "已全部删除" in erased[0], erased
    with database(stack)() as session:
        gone = session.get(Customer, customer_id)
        assert gone is not None
        assert (gone.name, gone.phone) == (None, None)
    stored = stack.transcript(me)
    assert not any("13933334444" in row or "钱多多" in row for row in stored)


def test_a_third_booking_is_refused_politely(stack: Stack) -> None:
    me, phone = someone("many"), "13744445555"
    assert "预约成功" in book(stack, me, "我想预约试驾Q5L", "明天上午十点", "孙丽", phone)[-1]
    assert "预约成功" in book(stack, me, "再约一个试驾A6L", "明天上午十一点", "孙丽", phone)[-1]
    refused = book(stack, me, "再帮我约一个A4L的试驾", "明天下午四点", "孙丽", phone)
    assert any("2个" in line and "上限" in line for line in refused), refused
    assert sorted(status_of(stack, "+8613744445555")) == ["booked", "booked"]
