"""The lead writer on SQLite and PostgreSQL: customers by phone, one open lead, changes logged."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm_bridge import conversations, identity, migrate
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, build_engine, build_session_factory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.leads import LeadUpdate, intention_level, record_lead
from crm_bridge.models import CatalogModel, Customer, Lead, LeadEvent

T0 = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
PHONE = "+8613800138000"


@pytest.fixture
def db(sessions: SessionFactory) -> SessionFactory:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    return sessions


def write(db: SessionFactory, sender: str, update: LeadUpdate, at: datetime = T0) -> int | None:
    with transaction(db) as session:
        if conversations.latest_conversation(session, sender) is None:
            conversations.start_conversation(session, sender, at, update.channel)
        lead = record_lead(session, sender, update, "conversation:rest", at)
        return lead.id if lead else None


@pytest.mark.parametrize(
    ("days", "level"), [(0, "H"), (7, "H"), (8, "A"), (15, "A"), (30, "B"), (31, "C"), (None, "C")]
)
def test_intention_level(days: int | None, level: str) -> None:
    assert intention_level(days) == level


def test_catalog_loads_and_reloads(db: SessionFactory) -> None:
    with transaction(db) as session:
        load_dealer_data_into(session, load_dealer_data())  # idempotent
    with db() as session:
        assert session.scalar(select(func.count()).select_from(CatalogModel)) == 14
        q5 = session.scalars(select(CatalogModel).where(CatalogModel.code == "Q5L")).one()
        assert q5.price_min_cny == 392800
        assert [p.title_en for p in q5.promotions] == ["Q5L trade-in bonus up to CNY 20,000"]


def test_nothing_is_stored_without_consent(db: SessionFactory) -> None:
    assert write(db, "s1", LeadUpdate(consent=False, name="张伟", phone=PHONE)) is None
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 0
        assert session.scalar(select(func.count()).select_from(Lead)) == 0


def test_lead_grows_with_the_conversation_and_qualifies(db: SessionFactory) -> None:
    write(db, "s1", LeadUpdate(consent=True, channel="rest", language="zh", model_interest=["Q5L"]))
    write(db, "s1", LeadUpdate(consent=True, budget_cny_max=400000), T0 + timedelta(minutes=1))
    write(db, "s1", LeadUpdate(consent=True, purchase_timeline_days=14), T0 + timedelta(minutes=2))
    with db() as session:
        lead = session.scalars(select(Lead)).one()
        assert lead.status == "new"  # no contact yet
    write(db, "s1", LeadUpdate(consent=True, name="张伟", phone=PHONE), T0 + timedelta(minutes=3))
    with db() as session:
        lead = session.scalars(select(Lead)).one()
        assert (lead.status, lead.level, lead.budget_cny_max) == ("qualified", "A", 400000)
        assert lead.model_interest == ["Q5L"]
        assert lead.customer is not None
        assert (lead.customer.name, lead.customer.phone, lead.customer.consent) == (
            "张伟",
            PHONE,
            True,
        )
        assert lead.updated_at == T0 + timedelta(minutes=3)
        kinds = [(e.kind, e.field, e.new_value) for e in lead.events]
        assert kinds[0] == ("created", None, "new")
        assert ("changed", "budget_cny_max", "400000") in kinds
        assert ("status", "status", "qualified") in kinds
        assert all(e.source == "conversation:rest" for e in lead.events)


def test_corrections_are_logged_with_old_and_new_value(db: SessionFactory) -> None:
    write(db, "s1", LeadUpdate(consent=True, budget_cny_max=400000))
    write(db, "s1", LeadUpdate(consent=True, budget_cny_max=350000), T0 + timedelta(minutes=1))
    with db() as session:
        event = session.scalars(
            select(LeadEvent).where(LeadEvent.field == "budget_cny_max").order_by(LeadEvent.id)
        ).all()[-1]
        assert (event.old_value, event.new_value) == ("400000", "350000")


def test_a_number_given_elsewhere_only_adds_to_its_customers_lead(db: SessionFactory) -> None:
    """A second conversation giving a known number proves nothing: it may add interest and is
    logged as a contact attempt, but the name and contact details stay the customer's."""
    write(db, "web-1", LeadUpdate(consent=True, channel="web", name="张伟", phone=PHONE,
                                  model_interest=["A6L"]))  # fmt: skip
    write(db, "tg-9", LeadUpdate(consent=True, channel="telegram", budget_cny_max=500000))
    later = T0 + timedelta(minutes=5)
    write(db, "tg-9", LeadUpdate(consent=True, channel="telegram", phone=PHONE, name="李娜",
                                 model_interest=["Q5L"], budget_cny_max=600000), later)  # fmt: skip
    with db() as session:
        customer = session.scalars(select(Customer).where(Customer.phone == PHONE)).one()
        assert customer.name == "张伟"
        [lead] = customer.leads
        assert lead.model_interest == ["A6L", "Q5L"]
        assert lead.budget_cny_max == 600000  # unknown before: new interest is kept
        attempts = [e for e in lead.events if e.kind == "contact"]
        assert [(e.field, e.new_value, e.source) for e in attempts] == [
            ("contact_attempt", "telegram", "conversation:rest:unverified")
        ]
        assert identity.customer_of_sender(session, "tg-9") == customer
        assert not identity.speaks_for(session, "tg-9", customer)
        assert identity.speaks_for(session, "web-1", customer) is False  # no longer alone
        assert identity.may_update(session, "web-1", customer)


def test_a_verified_number_joins_its_customer(db: SessionFactory) -> None:
    write(db, "web-1", LeadUpdate(consent=True, channel="web", name="张伟", phone=PHONE,
                                  model_interest=["A6L"]))  # fmt: skip
    write(db, "tg-9", LeadUpdate(consent=True, channel="telegram", budget_cny_max=500000))
    with transaction(db) as session:
        identity.verify_phone(session, "tg-9", PHONE, "telegram_contact", T0)
    later = T0 + timedelta(minutes=5)
    write(db, "tg-9", LeadUpdate(consent=True, phone=PHONE, name="张伟伟"), later)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
        lead = session.scalars(select(Lead)).one()
        assert lead.model_interest == ["A6L"]
        assert lead.budget_cny_max == 500000
        assert lead.customer is not None
        assert lead.customer.name == "张伟伟"
        assert identity.speaks_for(session, "tg-9", lead.customer)
        # The conversation that made the record no longer speaks for the verified number.
        assert not identity.may_update(session, "web-1", lead.customer)


def test_a_corrected_number_moves_the_customer_instead_of_leaving_one_behind(
    db: SessionFactory,
) -> None:
    write(db, "web-1", LeadUpdate(consent=True, name="张伟", phone="+8613900139000"))
    write(db, "web-1", LeadUpdate(consent=True, phone=PHONE), T0 + timedelta(minutes=1))
    with db() as session:
        [customer] = session.scalars(select(Customer)).all()
        assert (customer.name, customer.phone) == ("张伟", PHONE)


def test_a_conversation_stays_linked_across_sessions(db: SessionFactory) -> None:
    write(db, "web-1", LeadUpdate(consent=True, name="张伟", phone=PHONE))
    with transaction(db) as session:  # Rasa starts a new session an hour later
        conversations.start_conversation(session, "web-1", T0 + timedelta(hours=2), "web")
    write(db, "web-1", LeadUpdate(consent=True, budget_cny_max=300000), T0 + timedelta(hours=2))
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
        customer = identity.customer_of_sender(session, "web-1")
        assert customer is not None
        assert customer.phone == PHONE
        assert customer.leads[0].budget_cny_max == 300000


def test_a_closed_lead_makes_room_for_a_new_one(db: SessionFactory) -> None:
    first = write(db, "s1", LeadUpdate(consent=True, phone=PHONE))
    with transaction(db) as session:
        lead = session.get(Lead, first)
        assert lead is not None
        lead.status = "won"
    second = write(db, "s2", LeadUpdate(consent=True, phone=PHONE), T0 + timedelta(days=400))
    assert second != first


def test_concurrent_conversations_make_one_customer_and_one_open_lead(
    postgres_database: str,
) -> None:
    """Eight conversations give the same phone at the same moment (PostgreSQL, real threads)."""
    migrate.upgrade(postgres_database)
    engine = build_engine(postgres_database, pool_size=10)
    factory = build_session_factory(engine)
    with transaction(factory) as session:
        load_dealer_data_into(session, load_dealer_data())
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def converse(i: int) -> None:
        try:
            barrier.wait()
            update = LeadUpdate(consent=True, phone=PHONE, budget_cny_max=300000 + i)
            write(factory, f"c{i}", update)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=converse, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(Customer)) == 1
            assert session.scalar(select(func.count()).select_from(Lead)) == 1
            lead = session.scalars(select(Lead)).one()
            assert lead.budget_cny_max in range(300000, 300008)
    finally:
        engine.dispose()
