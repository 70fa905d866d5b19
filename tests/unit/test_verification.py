"""One-time codes by SMS: single use, expiring, rate-limited, never logged; the provider's wire
format against a local stub of its Messages API."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_bridge import conversations, identity, verification
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.leads import LeadUpdate, record_lead
from crm_bridge.models import LeadEvent, VerificationCode
from crm_bridge.sms import SmsError, TwilioSms
from tests.conftest import make_settings
from tests.sms_stub import ACCOUNT_SID, FROM_NUMBER, running_sms_stub

KEY = b"test key"
NOW = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
PHONE = "+8613800138000"


def issue(
    sessions: SessionFactory, sender: str = "s1", phone: str = PHONE, at: datetime = NOW
) -> str:
    with transaction(sessions) as session:
        return verification.issue_code(session, KEY, sender, phone, at)


def check(
    sessions: SessionFactory, code: str, sender: str = "s1", at: datetime = NOW
) -> verification.Check:
    with transaction(sessions) as session:
        return verification.check_code(session, KEY, sender, code, at)


def test_a_code_verifies_the_number_once(sessions: SessionFactory) -> None:
    code = issue(sessions)
    assert len(code) == 6
    assert code.isdigit()
    with sessions() as session:
        [row] = session.scalars(select(VerificationCode)).all()
        assert code not in row.code_hash  # only a keyed hash is kept
    assert check(sessions, code, sender="someone-else").outcome == "none"
    assert check(sessions, code) == verification.Check("verified", PHONE)
    with sessions() as session:
        assert identity.verified_phones(session, "s1") == {PHONE}
    assert check(sessions, code).outcome == "none"  # used


def test_wrong_codes_use_up_the_tries(sessions: SessionFactory) -> None:
    code = issue(sessions)
    wrong = "000000" if code != "000000" else "111111"
    lefts = [check(sessions, wrong) for _ in range(verification.MAX_ATTEMPTS)]
    assert [c.outcome for c in lefts] == ["wrong"] * 4 + ["exhausted"]
    assert check(sessions, code).outcome == "exhausted"  # even the right one, now
    with sessions() as session:
        assert identity.verified_phones(session, "s1") == set()


def test_codes_expire_and_a_new_one_replaces_the_old(sessions: SessionFactory) -> None:
    code = issue(sessions)
    late = NOW + verification.CODE_TTL + timedelta(seconds=1)
    assert check(sessions, code, at=late).outcome == "expired"
    old = issue(sessions, at=NOW + timedelta(minutes=1))
    new = issue(sessions, at=NOW + timedelta(minutes=2))
    if old != new:
        assert check(sessions, old, at=NOW + timedelta(minutes=3)).outcome == "wrong"
    assert check(sessions, new, at=NOW + timedelta(minutes=3)).outcome == "verified"


def test_codes_are_rate_limited_per_conversation_and_per_number(sessions: SessionFactory) -> None:
    for minute in range(verification.MAX_CODES_PER_HOUR):
        issue(sessions, at=NOW + timedelta(minutes=minute))
    with pytest.raises(verification.TooManyCodes):
        issue(sessions, at=NOW + timedelta(minutes=10))
    # Other conversations cannot flood the same number either.
    with pytest.raises(verification.TooManyCodes):
        issue(sessions, sender="s2", at=NOW + timedelta(minutes=10))
    issue(sessions, sender="s2", phone="+8613900139000", at=NOW + timedelta(minutes=10))
    issue(sessions, at=NOW + timedelta(hours=1, minutes=1))  # an hour later


async def test_the_sms_goes_out_in_the_providers_format(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_sms_stub() as stub:
        settings = make_settings(tmp_path, **{k.lower(): v for k, v in stub.env().items()})
        sms = TwilioSms.from_settings(settings)
        assert sms is not None
        sid = await sms.send(PHONE, "您的验证码是 123456")
        assert sid.startswith("SM")
        assert stub.sent == [{"To": PHONE, "From": FROM_NUMBER, "Body": "您的验证码是 123456"}]
        stub.fail_with = 429
        with pytest.raises(SmsError):
            await sms.send(PHONE, "您的验证码是 654321")
        wrong = TwilioSms(stub.base_url, ACCOUNT_SID, "not-the-token", FROM_NUMBER)
        stub.fail_with = None
        with pytest.raises(SmsError):
            await wrong.send(PHONE, "x")
    unreachable = TwilioSms("http://127.0.0.1:9", ACCOUNT_SID, "t", FROM_NUMBER)
    with pytest.raises(SmsError):
        await unreachable.send(PHONE, "您的验证码是 777777")
    assert "123456" not in caplog.text
    assert "654321" not in caplog.text
    assert "777777" not in caplog.text


def test_without_a_provider_no_sender_is_built(tmp_path: Path) -> None:
    assert TwilioSms.from_settings(make_settings(tmp_path)) is None


def test_a_request_for_a_person_lands_on_the_customers_lead(sessions: SessionFactory) -> None:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        conversations.start_conversation(session, "web-1", NOW, "web")
        lead = record_lead(session, "web-1", LeadUpdate(consent=True, phone=PHONE), "t", NOW)
        assert lead is not None
        lead.status = "won"  # even a closed lead takes it: the customer is known
        assert verification.hand_to_person(session, PHONE, "erase", "conversation:rest", NOW)
        assert not verification.hand_to_person(session, "+8613900139000", "erase", "x", NOW)
    with sessions() as session:
        [request] = session.scalars(select(LeadEvent).where(LeadEvent.kind == "request")).all()
        assert (request.field, request.new_value) == ("verification", "erase")
