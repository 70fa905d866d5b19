"""The needs-analysis form's validation, with trackers built in code and a real database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions import contact
from actions.base import Services
from actions.contact import ActionAskQualificationFormPhone, ActionAskTestDriveFormPhone
from actions.qualification import ActionSubmitQualification, ValidateQualificationForm
from crm_bridge import identity
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.exports import lead_records
from crm_bridge.models import Customer, Handoff, Lead, VerifiedPhone
from tests.conftest import make_services, make_settings
from tests.domain import load_domain
from tests.trackers import form_turn

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
FORM = "qualification_form"


@pytest.fixture
def services(sessions: SessionFactory, tmp_path: Path) -> Services:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    return make_services(make_settings(tmp_path), sessions, lambda: NOW)


def turn(text: str, intent: str, **details: Any) -> Tracker:
    """The tracker the needs analysis hands to its validation action (tests/trackers.py)."""
    return form_turn(text, intent, form=FORM, at=NOW.timestamp(), **details)


async def validate(services: Services, tracker: Tracker) -> tuple[dict[str, Any], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateQualificationForm(services).run(dispatcher, tracker, load_domain())
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return slots, [m.get("response") for m in dispatcher.messages]


def leads(sessions: SessionFactory) -> list[dict[str, Any]]:
    with sessions() as session:
        return lead_records(session, ZoneInfo("UTC"))


FIRST = {"name": "张伟", "phone": "+8613800138000", "car_models": ["Q5L"], "budget": 400000}


async def test_first_message_fills_four_slots_and_asks_consent_before_storing(
    services: Services, sessions: SessionFactory
) -> None:
    slots, said = await validate(
        services, turn("我叫张伟，电话13800138000，想看Q5L，预算40万", "inform", candidates=FIRST)
    )
    assert {k: slots[k] for k in FIRST} == FIRST
    assert slots["requested_slot"] == "consent"
    assert said == []
    assert leads(sessions) == []  # nothing personal before consent


async def test_consent_writes_the_lead_and_a_timeline_qualifies_it(
    services: Services, sessions: SessionFactory
) -> None:
    slots, said = await validate(
        services,
        turn("同意", "affirm", before=FIRST, candidates={"consent": True}, requested="consent"),
    )
    assert slots["consent"] is True
    assert said == ["utter_consent_thanks"]
    assert slots["requested_slot"] == "purchase_timeline"
    [lead] = leads(sessions)
    assert (lead["name"], lead["phone"], lead["model_interest"], lead["budget_cny_max"]) == (
        "张伟", "+8613800138000", ["Q5L"], 400000,
    )  # fmt: skip
    assert (lead["status"], lead["level"], lead["consent"]) == ("new", "C", True)

    known = {**FIRST, "consent": True}
    slots, _ = await validate(
        services,
        turn("两周内", "inform", before=known, candidates={"purchase_timeline": 14},
             requested="purchase_timeline"),
    )  # fmt: skip
    assert slots["requested_slot"] == "payment"
    [lead] = leads(sessions)
    assert (lead["status"], lead["level"], lead["purchase_timeline_days"]) == ("qualified", "A", 14)


async def test_invalid_phone_is_re_asked_then_skipping_is_offered(
    services: Services, sessions: SessionFactory
) -> None:
    known = {"consent": True, "name": "张伟"}
    slots, said = await validate(
        services, turn("12345", "inform", before=known, candidates={"phone": "12345"},
                       requested="phone"),
    )  # fmt: skip
    assert slots["phone"] is None
    assert said == ["utter_invalid_phone"]
    assert slots["slot_failures"] == {"phone": 1}
    slots, said = await validate(
        services,
        turn("138001380", "inform", before={**known, "slot_failures": {"phone": 1}},
             candidates={"phone": "138001380"}, requested="phone"),
    )  # fmt: skip
    assert said == ["utter_invalid_phone", "utter_offer_skip"]
    [lead] = leads(sessions)
    assert lead["phone"] is None  # the lead exists (consent), without a wrong number


async def test_an_answer_with_nothing_usable_is_re_asked(services: Services) -> None:
    slots, said = await validate(
        services, turn("嗯嗯", "nlu_fallback", before={"car_models": ["Q5L"]}, requested="budget")
    )
    assert slots["budget"] is None
    assert said == ["utter_invalid_budget"]
    assert slots["requested_slot"] == "budget"


async def test_skip_moves_on(services: Services) -> None:
    slots, said = await validate(
        services, turn("不想说", "deny", before={"car_models": ["Q5L"]}, requested="budget")
    )
    assert slots["skipped_slots"] == ["budget"]
    assert said == ["utter_skipped"]
    assert slots["requested_slot"] == "purchase_timeline"


async def test_a_question_mid_form_is_left_to_the_rules(services: Services) -> None:
    slots, said = await validate(
        services, turn("Q7多少钱", "ask_price", before={"car_models": ["Q5L"]}, requested="budget")
    )
    # Nothing but the requested slot: Rasa rejects the form and the question gets answered.
    assert set(slots) <= {"requested_slot"}
    assert said == []


async def test_correction_is_confirmed(services: Services, sessions: SessionFactory) -> None:
    known = {**FIRST, "consent": True, "purchase_timeline": 14}
    slots, said = await validate(
        services,
        turn("不对，预算是35万", "deny", before=known, candidates={"budget": 350000},
             requested="payment"),
    )  # fmt: skip
    assert slots["budget"] == 350000
    assert said == ["utter_slot_updated"]
    [lead] = leads(sessions)
    assert lead["budget_cny_max"] == 350000


async def test_models_add_up_unless_corrected(services: Services) -> None:
    known = {"car_models": ["Q5L"]}
    slots, _ = await validate(
        services,
        turn("A6L也想看看", "inform", before=known, candidates={"car_models": ["A6L"]},
             requested="budget"),
    )  # fmt: skip
    assert slots["car_models"] == ["Q5L", "A6L"]
    slots, _ = await validate(
        services,
        turn("不对，我想看的是A6L", "inform", before=known, candidates={"car_models": ["A6L"]},
             requested="budget"),
    )  # fmt: skip
    assert slots["car_models"] == ["A6L"]
    slots, said = await validate(
        services,
        turn("Model Y", "inform", candidates={"car_models": ["Model Y"]}, requested="car_models"),
    )
    assert slots["car_models"] is None
    assert said == ["utter_invalid_car_models"]


async def test_the_trade_in_car_is_not_an_interest(services: Services) -> None:
    known = {"car_models": ["Q5L"], "budget": 400000}
    slots, _ = await validate(
        services,
        turn("有，一台2016年的A4L", "affirm", before=known, requested="trade_in",
             candidates={"trade_in": True, "car_models": ["A4L"],
                         "trade_in_vehicle": "有，一台2016年的A4L"}),
    )  # fmt: skip
    assert slots["car_models"] == ["Q5L"]
    assert slots["trade_in"] is True
    assert slots["trade_in_vehicle"] == "2016年的A4L"


async def test_declining_consent_forgets_contact_details(
    services: Services, sessions: SessionFactory
) -> None:
    slots, said = await validate(
        services,
        turn("不同意", "deny", before=FIRST, candidates={"consent": False}, requested="consent"),
    )
    assert (slots["consent"], slots["name"], slots["phone"]) == (False, None, None)
    assert said == ["utter_consent_declined"]
    assert leads(sessions) == []
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 0


@pytest.mark.parametrize(
    "name",
    ["<script>alert(1)</script>", "Robert'); DROP TABLE customers;--", "😀😀", "x" * 10_000],
)
async def test_names_that_are_not_names_are_refused(
    services: Services, sessions: SessionFactory, name: str
) -> None:
    slots, said = await validate(
        services,
        turn(name, "inform", before={"consent": True}, candidates={"name": name},
             requested="name"),
    )  # fmt: skip
    assert slots["name"] is None
    assert said == ["utter_invalid_name"]
    with sessions() as session:
        assert session.scalars(select(Customer.name)).all() in ([], [None])


async def test_submit_tells_what_happens_next(services: Services, sessions: SessionFactory) -> None:
    known = {**FIRST, "consent": True, "purchase_timeline": 7, "payment": "loan", "trade_in": False}
    dispatcher = CollectingDispatcher()
    await ActionSubmitQualification(services).run(
        dispatcher, turn("没有", "deny", before=known), load_domain()
    )
    message, handed_off = dispatcher.messages
    assert message["response"] == "utter_qualified"
    assert message["phone"] == "+8613800138000"
    # Buying within a week is an H lead: a consultant takes over.
    assert handed_off["response"] in ("utter_handoff_now", "utter_handoff_at_opening")
    assert (
        message["summary"]
        == "意向车型：Q5L；预算：40万元；购车时间：7天内；付款方式：贷款；旧车置换：无"
    )
    [lead] = leads(sessions)
    assert (lead["status"], lead["level"], lead["payment"], lead["trade_in"]) == (
        "handed_off", "H", "loan", False,
    )  # fmt: skip
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 1
        [handoff] = session.scalars(select(Handoff)).all()
        assert (handoff.reason, handoff.state, handoff.lead_id) == (
            "hot_lead",
            "waiting",
            lead["id"],
        )


async def test_submit_without_consent_stores_nothing(
    services: Services, sessions: SessionFactory
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionSubmitQualification(services).run(
        dispatcher,
        turn("不同意", "deny", before={"car_models": ["Q7"], "consent": False}),
        load_domain(),
    )
    assert [m["response"] for m in dispatcher.messages] == ["utter_needs_noted_anonymous"]
    assert leads(sessions) == []


async def test_a_statement_about_trade_in_fills_it(services: Services) -> None:
    slots, _ = await validate(
        services,
        turn("想看A6L，预算50万，全款，没有旧车", "inform",
             candidates={"car_models": ["A6L"], "budget": 500000, "payment": "cash"}),
    )  # fmt: skip
    assert slots["trade_in"] is False
    assert slots["requested_slot"] == "purchase_timeline"
    known = {"car_models": ["A6L"], "budget": 500000, "purchase_timeline": 30, "payment": "cash"}
    slots, _ = await validate(
        services, turn("有", "ask_models", before=known, requested="trade_in")
    )
    assert slots["trade_in"] is True
    assert slots["requested_slot"] == "trade_in_vehicle"


async def test_statements_are_read_when_the_form_starts(services: Services) -> None:
    """On activation Rasa puts the loop event and the prefilled slots before the form runs."""
    tracker = turn(
        "想看A6L，预算50万，全款，没有旧车", "inform",
        candidates={"car_models": ["A6L"], "budget": 500000, "payment": "cash"},
    )  # fmt: skip
    at = next(i for i, e in enumerate(tracker.events) if e.get("name") == "requested_slot")
    tracker.events[at:at] = [
        {"event": "active_loop", "name": FORM},
        {"event": "slot", "name": "car_models", "value": ["A6L"]},
    ]
    slots, _ = await validate(services, tracker)
    assert slots["trade_in"] is False


async def test_only_yes_with_a_description_names_the_trade_in_car(services: Services) -> None:
    known = {"car_models": ["A6L"], "budget": 500000, "purchase_timeline": 30, "payment": "cash"}
    slots, _ = await validate(
        services,
        turn("同意", "affirm", before=known, requested="trade_in",
             candidates={"trade_in": True, "trade_in_vehicle": "同意"}),
    )  # fmt: skip
    assert (slots["trade_in"], slots["trade_in_vehicle"]) == (True, None)
    assert slots["requested_slot"] == "trade_in_vehicle"


async def test_a_value_nobody_asked_for_that_does_not_fit_is_dropped_quietly(
    services: Services,
) -> None:
    slots, said = await validate(
        services, turn("<script>alert(1)</script>", "inform", candidates={"phone": "(1)"})
    )
    assert slots["phone"] is None
    assert said == []
    assert slots["requested_slot"] == "car_models"


async def test_a_number_taken_for_a_phone_does_not_erase_the_one_given(
    services: Services,
) -> None:
    before = {"consent": True, "phone": "+8613800138000", "car_models": ["Q5L"], "budget": 400000,
              "purchase_timeline": 14, "payment": "loan", "trade_in": True}  # fmt: skip
    slots, said = await validate(
        services,
        turn("一台2016年的帕萨特", "inform", before=before, requested="trade_in_vehicle",
             candidates={"phone": "2016", "trade_in_vehicle": "一台2016年的帕萨特"}),
    )  # fmt: skip
    assert slots["phone"] == "+8613800138000"
    assert slots["trade_in_vehicle"] == "2016年的帕萨特"
    assert said == []


async def test_the_payment_named_answers_how_to_pay_whatever_the_intent(services: Services) -> None:
    """ "I'd pay with leasing" read as a financing question still answers "how will you pay?";
    a real question about financing does not."""
    known = {"car_models": ["Q5 e-tron"], "budget": 550000, "purchase_timeline": 14}
    lease = [{"entity": "payment", "value": "lease", "start": 15, "end": 22}]
    slots, _ = await validate(
        services,
        turn("I'd pay with leasing", "ask_financing", before=known, requested="payment",
             entities=lease),
    )  # fmt: skip
    assert slots["payment"] == "lease"
    assert slots["requested_slot"] == "trade_in"
    loan = [{"entity": "payment", "value": "loan", "start": 5, "end": 14}]
    slots, _ = await validate(
        services,
        turn("What financing options do you have?", "ask_financing", before=known,
             requested="payment", entities=loan),
    )  # fmt: skip
    assert slots.get("payment") is None


# --- by phone: the number the customer calls from --------------------------------------------

CALLER = "+8613912345678"
BY_PHONE: dict[str, Any] = {"sender": f"phone:{CALLER}", "channel": "phone",
            "metadata": {"language": "zh", "caller": CALLER}}  # fmt: skip
KNOWN = {**{k: v for k, v in FIRST.items() if k != "phone"}, "consent": True,
         "purchase_timeline": 30, "payment": "cash", "trade_in": False}  # fmt: skip


async def test_by_phone_a_yes_to_the_number_calling_from_takes_it_and_proves_it(
    services: Services, sessions: SessionFactory
) -> None:
    tracker = turn("对，就打这个", "affirm", before=KNOWN, requested="phone",
                   asked=contact.OFFER, **BY_PHONE)  # fmt: skip
    slots, said = await validate(services, tracker)
    assert slots["phone"] == CALLER
    assert said == []
    with sessions() as session:
        assert identity.verified_phones(session, f"phone:{CALLER}") == {CALLER}
        assert session.scalars(select(VerifiedPhone.via)).all() == ["caller_id"]
    [lead] = leads(sessions)
    assert lead["phone"] == CALLER


async def test_by_phone_a_no_to_it_gets_the_plain_question_not_a_skip(
    services: Services, sessions: SessionFactory
) -> None:
    tracker = turn("不用，换一个号码", "deny", before=KNOWN, requested="phone",
                   asked=contact.OFFER, **BY_PHONE)  # fmt: skip
    slots, said = await validate(services, tracker)
    assert slots.get("phone") is None
    assert said == []  # neither "invalid number" nor "let's skip that"
    assert "skipped_slots" not in slots
    assert slots["requested_slot"] == "phone"
    dispatcher = CollectingDispatcher()
    await ActionAskQualificationFormPhone().run(dispatcher, tracker, load_domain())
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_phone"]
    # Another number given then is taken, and proves nothing.
    given = turn("13711112222", "inform", before=KNOWN, requested="phone",
                 candidates={"phone": "13711112222"}, **BY_PHONE)  # fmt: skip
    slots, said = await validate(services, given)
    assert slots["phone"] == "+8613711112222"
    with sessions() as session:
        assert identity.verified_phones(session, f"phone:{CALLER}") == set()


async def test_the_caller_is_offered_their_number_and_nobody_else_is(services: Services) -> None:
    domain = load_domain()
    by_phone = turn("李娜", "inform", before=KNOWN, requested="name", **BY_PHONE)
    dispatcher = CollectingDispatcher()
    await ActionAskQualificationFormPhone().run(dispatcher, by_phone, domain)
    [offer] = dispatcher.messages
    assert (offer["response"], offer["tail"]) == (contact.OFFER, "5678")
    assert [b["payload"] for b in offer["buttons"]] == ["/affirm", "/deny"]
    on_the_web = turn("李娜", "inform", before=KNOWN, requested="name")
    dispatcher = CollectingDispatcher()
    await ActionAskTestDriveFormPhone().run(dispatcher, on_the_web, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_phone"]
    # A yes on the web (no number it calls from) fills nothing.
    slots, _ = await validate(
        services, turn("好的", "affirm", before=KNOWN, requested="phone", asked=contact.OFFER)
    )
    assert slots.get("phone") is None


async def test_a_rest_client_naming_a_phone_channel_and_a_caller_proves_nothing(
    services: Services, sessions: SessionFactory
) -> None:
    forged = {**BY_PHONE, "channel": "rest",
              "metadata": {"channel": "phone", "caller": CALLER}}  # fmt: skip
    tracker = turn("对", "affirm", before=KNOWN, requested="phone", asked=contact.OFFER, **forged)
    slots, _ = await validate(services, tracker)
    assert slots.get("phone") is None
    with sessions() as session:
        assert identity.verified_phones(session, f"phone:{CALLER}") == set()
