"""Hand-off in the database: opening-hours deadlines, one open hand-off per conversation, the
first claim wins (also when two consultants press at once), statuses and owners in the exports."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm_bridge import dealer_data, exports, handoff, leads, sales, staff
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Delivery, Handoff, Lead, LeadEvent
from crm_bridge.opening import OpeningHours

ZONE = ZoneInfo("Asia/Shanghai")
# A Wednesday: the demo showroom is open 09:00-18:00 (Friday until 18:30).
WEDNESDAY_10 = datetime(2026, 12, 2, 10, 0, tzinfo=ZONE)


@pytest.fixture
def dealership(sessions: SessionFactory) -> SessionFactory:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        staff.add(session, staff.StaffEntry(5001, "王磊", "consultant"))
        staff.add(session, staff.StaffEntry(5002, "李娜", "consultant"))
        staff.add(session, staff.StaffEntry(5003, "赵经理", "manager"))
    return sessions


def hours(sessions: SessionFactory) -> OpeningHours:
    with sessions() as session:
        return OpeningHours.of(session, ZONE)


def a_lead(sessions: SessionFactory, sender: str, phone: str, at: datetime) -> int:
    update = leads.LeadUpdate(
        consent=True,
        channel="telegram",
        language="zh",
        name="张伟",
        phone=phone,
        model_interest=["Q5L"],
        purchase_timeline_days=7,
    )
    with transaction(sessions) as session:
        lead = leads.record_lead(session, sender, update, "test", at)
        assert lead is not None
        return lead.id


def open_for(sessions: SessionFactory, sender: str, at: datetime, reason: str = "person") -> int:
    with transaction(sessions) as session:
        result = handoff.request(
            session,
            sender_id=sender,
            reason=reason,
            at=at,
            zone="Asia/Shanghai",
            claim_minutes=10,
            channel="telegram",
        )
        return int(result["handoff_id"])


def test_deadlines_count_opening_hours_only(dealership: SessionFactory) -> None:
    showroom = hours(dealership)
    assert showroom.is_open(WEDNESDAY_10)
    assert showroom.after_open_minutes(WEDNESDAY_10, 10) == WEDNESDAY_10 + timedelta(minutes=10)
    evening = datetime(2026, 12, 2, 17, 55, tzinfo=ZONE)
    # Five minutes today, five after opening tomorrow.
    assert showroom.after_open_minutes(evening, 10) == datetime(2026, 12, 3, 9, 5, tzinfo=ZONE)
    night = datetime(2026, 12, 2, 23, 0, tzinfo=ZONE)
    assert not showroom.is_open(night)
    assert showroom.next_opening(night) == datetime(2026, 12, 3, 9, 0, tzinfo=ZONE)
    saturday_evening = datetime(2026, 12, 5, 20, 0, tzinfo=ZONE)
    # Sunday opens at 09:30.
    assert showroom.next_opening(saturday_evening) == datetime(2026, 12, 6, 9, 30, tzinfo=ZONE)


def test_without_dealership_data_the_showroom_is_never_open(sessions: SessionFactory) -> None:
    showroom = hours(sessions)
    assert showroom.next_opening(WEDNESDAY_10) is None
    assert showroom.after_open_minutes(WEDNESDAY_10, 10) == WEDNESDAY_10 + timedelta(minutes=10)


def test_one_open_handoff_per_conversation_and_the_lead_is_handed_off(
    dealership: SessionFactory,
) -> None:
    lead_id = a_lead(dealership, "telegram:1", "+8613800138000", WEDNESDAY_10)
    first = open_for(dealership, "telegram:1", WEDNESDAY_10)
    with transaction(dealership) as session:
        again = handoff.request(
            session,
            sender_id="telegram:1",
            reason="price",
            at=WEDNESDAY_10,
            zone="Asia/Shanghai",
            claim_minutes=10,
        )
        assert (again["handoff_id"], again["created"]) == (first, False)
        row = session.get(Handoff, first)
        assert row is not None
        assert (row.lead_id, row.reason, row.state) == (lead_id, "person", "waiting")
        assert row.claim_due_at == WEDNESDAY_10 + timedelta(minutes=10)
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.status == "handed_off"


def test_the_first_claim_wins_and_the_second_learns_who(dealership: SessionFactory) -> None:
    handoff_id = open_for(dealership, "telegram:2", WEDNESDAY_10)
    with transaction(dealership) as session:
        wang, li = (staff.by_telegram(session, i) for i in (5001, 5002))
        assert wang is not None
        assert li is not None
        won = handoff.claim(session, handoff_id, wang, WEDNESDAY_10, 10)
        lost = handoff.claim(session, handoff_id, li, WEDNESDAY_10, 10)
        assert (won.won, lost.won) == (True, False)
        assert lost.owner is not None
        assert lost.owner.name == "王磊"


def test_two_consultants_pressing_at_once_get_one_owner(dealership: SessionFactory) -> None:
    handoff_id = open_for(dealership, "telegram:3", WEDNESDAY_10)
    results: list[bool] = []
    start = threading.Barrier(2)

    def press(telegram_id: int) -> None:
        start.wait()
        with transaction(dealership) as session:
            who = staff.by_telegram(session, telegram_id)
            assert who is not None
            results.append(handoff.claim(session, handoff_id, who, WEDNESDAY_10, 10).won)

    threads = [threading.Thread(target=press, args=(i,)) for i in (5001, 5002)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]


def test_first_reply_makes_the_lead_contacted_and_the_owner_its_consultant(
    dealership: SessionFactory,
) -> None:
    lead_id = a_lead(dealership, "telegram:4", "+8613800138004", WEDNESDAY_10)
    handoff_id = open_for(dealership, "telegram:4", WEDNESDAY_10)
    later = WEDNESDAY_10 + timedelta(minutes=3)
    with transaction(dealership) as session:
        li = staff.by_telegram(session, 5002)
        assert li is not None
        handoff.claim(session, handoff_id, li, WEDNESDAY_10, 10)
        row = session.get(Handoff, handoff_id)
        assert row is not None
        handoff.relay(session, row, "to_customer", body="您好", staff=li, now=later)
        handoff.replied(session, row, li, later)
    with dealership() as session:
        [record] = [r for r in exports.lead_records(session, ZONE) if r["id"] == lead_id]
        assert (record["status"], record["consultant"]) == ("contacted", "李娜")
        kinds = session.scalars(
            select(LeadEvent.kind).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
        ).all()
        assert "handoff" in kinds
        assert "claimed" in kinds


def test_overdue_claims_and_replies_are_found_once(dealership: SessionFactory) -> None:
    handoff_id = open_for(dealership, "telegram:5", WEDNESDAY_10)
    with transaction(dealership) as session:
        assert handoff.claim_overdue(session, WEDNESDAY_10 + timedelta(minutes=9)) == []
        [due] = handoff.claim_overdue(session, WEDNESDAY_10 + timedelta(minutes=10))
        assert due.id == handoff_id
        due.escalated_at = WEDNESDAY_10 + timedelta(minutes=10)
    with transaction(dealership) as session:
        assert handoff.claim_overdue(session, WEDNESDAY_10 + timedelta(hours=1)) == []


def test_consultants_record_outcomes_and_deliveries(dealership: SessionFactory) -> None:
    lead_id = a_lead(dealership, "telegram:6", "+8613800138006", WEDNESDAY_10)
    with transaction(dealership) as session:
        wang = staff.by_telegram(session, 5001)
        assert wang is not None
        sales.set_status(session, wang, lead_id, "visited", "A", WEDNESDAY_10)
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert (lead.status, lead.level, lead.owner_id) == ("contacted", "A", wang.id)
        with pytest.raises(sales.SalesError):
            sales.record_delivery(
                session, wang, lead_id=lead_id, model="Q5L", vin="BAD", now=WEDNESDAY_10
            )
        delivery = sales.record_delivery(
            session, wang, lead_id=lead_id, model="q5l", vin="LFV3A28W0N3012345", now=WEDNESDAY_10
        )
        assert (delivery.model_code, delivery.customer_id is not None) == ("Q5L", True)
        assert lead.status == "won"
        li = staff.by_telegram(session, 5002)
        assert li is not None
        # Another consultant's lead is as invisible as a lead that does not exist.
        with pytest.raises(sales.SalesError):
            sales.set_status(session, li, lead_id, "lost", None, WEDNESDAY_10)
    with dealership() as session:
        assert session.scalar(select(Delivery.vin)) == "LFV3A28W0N3012345"


def test_staff_registration_is_checked(dealership: SessionFactory) -> None:
    with transaction(dealership) as session:
        with pytest.raises(staff.StaffError):
            staff.add(session, staff.StaffEntry(0, "x", "consultant"))
        with pytest.raises(staff.StaffError):
            staff.add(session, staff.StaffEntry(7, "x", "owner"))
        row = staff.add(session, staff.StaffEntry(5001, "王磊", "manager"))
        assert row.consultant_id is not None  # the demo data's consultant 王磊
        staff.remove(session, 5002)
        assert staff.by_telegram(session, 5002) is None
        assert [s.name for s in staff.listing(session)] == ["王磊", "赵经理"]


def test_the_utc_clock_is_used_for_deadlines(dealership: SessionFactory) -> None:
    at = WEDNESDAY_10.astimezone(UTC)
    handoff_id = open_for(dealership, "telegram:7", at)
    with dealership() as session:
        row = session.get(Handoff, handoff_id)
        assert row is not None
        assert row.claim_due_at == at + timedelta(minutes=10)


def test_staff_come_from_the_dealership_data_file(sessions: SessionFactory) -> None:
    raw = load_dealer_data().model_dump(mode="json")
    raw["consultants"][0]["telegram_user_id"] = 7001
    raw["managers"] = [{"name": "赵经理", "telegram_user_id": 7009}]
    data = dealer_data.DealerData.model_validate(raw)
    with transaction(sessions) as session:
        load_dealer_data_into(session, data)
        registered = {(s.telegram_user_id, s.name, s.role) for s in staff.listing(session)}
    consultant = data.consultants[0].name
    assert registered == {(7001, consultant, "consultant"), (7009, "赵经理", "manager")}
    raw["managers"] = [{"name": "x", "telegram_user_id": 7001}]
    with pytest.raises(ValueError, match="Telegram user id"):
        dealer_data.DealerData.model_validate(raw)
