"""Complaint tickets on SQLite and PostgreSQL: open -> in progress -> resolved with who and when,
races settled by the database, one ticket per survey and per open complaint, the export, the
CLI, erasure, and a complaint in a conversation opening a ticket the customer is told about."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from actions.base import Services
from actions.handoff import ActionHandOff
from bot.cli import main
from crm_bridge import customers, ticket_alerts, tickets
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Customer, Handoff, Lead, Survey, Ticket, TicketEvent
from crm_bridge.tickets import TicketError
from tests.conftest import make_services, make_settings
from tests.domain import load_domain, response_text
from tests.trackers import user_turn

AT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai: the showroom is open
PHONE = "+8613800138000"
ANSWERS = {"consultant": 1, "delivery": 4, "recommend": 3, "comment": "顾问态度很差"}


def survey_ticket(sessions: SessionFactory, answers: dict[str, object] | None = None) -> int:
    """A customer with a lead, a survey they scored low, and its ticket."""
    with transaction(sessions) as session:
        customer = Customer(phone=PHONE, name="张伟", consent=True)
        session.add(customer)
        session.flush()
        lead = Lead(customer_id=customer.id, status="won", channel="telegram", language="zh")
        survey = Survey(kind="post_delivery", stage="d1", customer_id=customer.id,
                        scheduled_for=AT, answers=answers or ANSWERS)  # fmt: skip
        session.add_all([lead, survey])
        session.flush()
        return tickets.open_ticket(
            session, source="survey", now=AT, sender_id="telegram:7", channel="telegram",
            language="zh", customer_id=customer.id, lead_id=lead.id, survey_id=survey.id,
            answers=answers or ANSWERS, cause="consultant",
        ).id  # fmt: skip


def moved(
    sessions: SessionFactory, ticket_id: int, to: str, at: datetime, actor: str = "赵经理",
    note: str | None = None, cause: str | None = None,
) -> Ticket:  # fmt: skip
    with transaction(sessions) as session:
        return tickets.move(session, ticket_id, to, now=at, actor=actor, note=note, cause=cause)


def test_a_ticket_goes_open_in_progress_resolved_with_who_and_when(
    sessions: SessionFactory,
) -> None:
    ticket_id = survey_ticket(sessions)
    taken = moved(sessions, ticket_id, "in_progress", AT + timedelta(hours=1), note="已致电客户")
    assert (taken.state, taken.progress_at) == ("in_progress", AT + timedelta(hours=1))
    lesson = "顾问未及时回电；已培训"
    done = moved(sessions, ticket_id, "resolved", AT + timedelta(days=1), note=lesson,
                 cause="consultant")  # fmt: skip
    assert (done.state, done.resolution, done.cause) == (
        "resolved",
        "顾问未及时回电；已培训",
        "consultant",
    )
    with sessions() as session:
        steps = session.scalars(select(TicketEvent).order_by(TicketEvent.id)).all()
        assert [(e.kind, e.actor, e.note, e.at) for e in steps] == [
            ("opened", "assistant", None, AT),
            ("in_progress", "赵经理", "已致电客户", AT + timedelta(hours=1)),
            ("resolved", "赵经理", "顾问未及时回电；已培训", AT + timedelta(days=1)),
        ]


def test_bad_steps_are_refused_with_their_reason(sessions: SessionFactory) -> None:
    ticket_id = survey_ticket(sessions)

    def refused(to: str, **kw: str) -> str:
        with pytest.raises(TicketError) as caught, transaction(sessions) as session:
            tickets.move(session, kw.pop("id", ticket_id), to, now=AT, actor="cli", **kw)  # type: ignore[arg-type]
        return caught.value.reason

    assert refused("resolved", note="  ") == "note"  # the cause and what was learned is required
    assert refused("resolved", note="x", cause="weather") == "cause"
    assert refused("open") == "target"
    assert refused("in_progress", id=999) == "unknown"  # type: ignore[arg-type]
    moved(
        sessions, ticket_id, "resolved", AT, note="误会，已向客户解释"
    )  # open -> resolved is fine
    assert refused("in_progress") == "state"  # nothing leaves resolved
    assert refused("resolved", note="again") == "state"
    with sessions() as session:
        assert session.scalar(select(Ticket.resolution)) == "误会，已向客户解释"


def test_a_stale_reader_cannot_move_a_ticket_on(sessions: SessionFactory) -> None:
    ticket_id = survey_ticket(sessions)
    with transaction(sessions) as stale:
        assert tickets.get(stale, ticket_id).state == "open"  # read before the other manager acts
        moved(sessions, ticket_id, "resolved", AT, note="已退还定金")
        with pytest.raises(TicketError) as caught:
            tickets.move(stale, ticket_id, "in_progress", now=AT, actor="李经理")
        assert (caught.value.reason, caught.value.state) == ("state", "resolved")


def test_two_managers_resolving_at_once_one_wins(sessions: SessionFactory) -> None:
    ticket_id = survey_ticket(sessions)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def resolve(who: str) -> None:
        start.wait()
        try:
            moved(sessions, ticket_id, "resolved", AT, note=f"{who} 处理", actor=who)
            outcomes.append("won")
        except TicketError as error:
            outcomes.append(error.reason)

    workers = [threading.Thread(target=resolve, args=(w,)) for w in ("赵经理", "钱经理")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(outcomes) == ["state", "won"]
    with sessions() as session:
        kinds = session.scalars(select(TicketEvent.kind).order_by(TicketEvent.id)).all()
        assert kinds == ["opened", "resolved"]


def test_a_survey_opens_one_ticket_even_with_two_writers(sessions: SessionFactory) -> None:
    ticket_id = survey_ticket(sessions)
    with transaction(sessions) as session:
        survey_id = session.scalars(select(Survey.id)).one()
        again = tickets.open_ticket(session, source="survey", now=AT, survey_id=survey_id)
        assert again.id == ticket_id
        other = Survey(kind="post_delivery", stage="d7", scheduled_for=AT, answers={})
        session.add(other)
        session.flush()
        other_id = other.id
    first = sessions()
    first.begin()
    mine = tickets.open_ticket(first, source="survey", now=AT, survey_id=other_id)
    found: list[int] = []
    racer = threading.Thread(
        target=lambda: found.append(_open_in_own_transaction(sessions, other_id))
    )
    racer.start()  # it does not see the uncommitted ticket; its insert waits on the unique key
    racer.join(timeout=0.5)
    first.commit()
    first.close()
    racer.join(timeout=60)
    assert found == [mine.id]
    with sessions() as session:
        assert len(session.scalars(select(Ticket)).all()) == 2


def _open_in_own_transaction(sessions: SessionFactory, survey_id: int) -> int:
    with transaction(sessions) as session:
        return tickets.open_ticket(session, source="survey", now=AT, survey_id=survey_id).id


def test_a_second_complaint_adds_to_the_open_ticket(sessions: SessionFactory) -> None:
    def complain(words: str, at: datetime) -> dict[str, object]:
        with transaction(sessions) as session:
            excerpt = [{"who": "customer", "text": words}]
            return tickets.complaint(session, sender_id="web-1", at=at, words=words,
                                     excerpt=excerpt, channel="web")  # fmt: skip

    first = complain("你们的销售态度太差了", AT)
    again = complain("到现在还没人联系我", AT + timedelta(hours=2))
    assert first == {"ticket_id": first["ticket_id"], "created": True}
    assert again == {"ticket_id": first["ticket_id"], "created": False}
    with sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.source, ticket.summary) == ("conversation", "你们的销售态度太差了")
        assert ticket.excerpt == [{"who": "customer", "text": "到现在还没人联系我"}]
        assert [(e.kind, e.note) for e in ticket.events] == [
            ("opened", None), ("repeated", "到现在还没人联系我")]  # fmt: skip
    moved(sessions, int(str(first["ticket_id"])), "resolved", AT + timedelta(days=1), note="已道歉")
    later = complain("又出问题了", AT + timedelta(days=3))
    assert later["created"] is True
    assert later["ticket_id"] != first["ticket_id"]


def test_listing_export_and_what_the_jobs_pick(sessions: SessionFactory) -> None:
    resolved_id = survey_ticket(sessions, {"recommend": 2})
    moved(sessions, resolved_id, "resolved", AT, note="已补偿保养券", cause="service")
    with transaction(sessions) as session:
        taken = tickets.open_ticket(session, source="staff", now=AT + timedelta(minutes=1)).id
        fresh = tickets.open_ticket(session, source="conversation", now=AT + timedelta(minutes=2),
                                    sender_id="web-9", summary="I want to complain").id  # fmt: skip
    moved(sessions, taken, "in_progress", AT + timedelta(minutes=3))
    with transaction(sessions) as session:
        assert [t.id for t in tickets.listing(session)] == [fresh, taken]
        assert [t.id for t in tickets.listing(session, include_resolved=True)] == [
            fresh, taken, resolved_id]  # fmt: skip
        assert [t.id for t in ticket_alerts.to_alert(session)] == [taken, fresh]
        assert ticket_alerts.claim_alert(session, fresh, AT)
        assert not ticket_alerts.claim_alert(session, fresh, AT)
        assert ticket_alerts.to_escalate(session, AT + timedelta(hours=3, minutes=59), 4) == []
        assert [t.id for t in ticket_alerts.to_escalate(session, AT + timedelta(hours=4), 4)] == [
            fresh
        ]
        records = tickets.ticket_records(session, make_settings(Path("/")).timezone)
    first = records[0]
    assert first["customer"] == "张伟"
    assert first["phone"] == PHONE
    assert (first["state"], first["source"], first["cause"]) == ("resolved", "survey", "service")
    assert first["answers"] == {"recommend": 2}
    assert first["opened_at"] == "2026-12-02T10:00:00+08:00"
    assert first["resolved_at"] == "2026-12-02T10:00:00+08:00"
    assert first["resolution"] == "已补偿保养券"
    assert first["escalations"] == 0
    assert [e["kind"] for e in first["events"]] == ["opened", "resolved"]
    assert first["events"][1] == {"kind": "resolved", "actor": "赵经理", "note": "已补偿保养券",
                                  "at": "2026-12-02T10:00:00+08:00"}  # fmt: skip
    assert records[2]["summary"] == "I want to complain"
    assert records[2]["customer"] is None
    assert set(first) >= {"id", "state", "source", "cause", "customer", "phone", "channel",
                          "language", "opened_at", "progress_at", "resolved_at", "resolution",
                          "summary", "answers", "escalations", "events"}  # fmt: skip


def test_erasing_the_customer_blanks_their_tickets(sessions: SessionFactory) -> None:
    ticket_id = survey_ticket(sessions)
    moved(
        sessions, ticket_id, "resolved", AT, note=f"已回电 {PHONE}，顾问已培训", cause="consultant"
    )
    with transaction(sessions) as session:
        assert customers.erase_by_phone(session, PHONE, AT) is not None
    with sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert ticket.answers == {"consultant": 1, "delivery": 4, "recommend": 3}  # scores stay
        assert (ticket.summary, ticket.excerpt, ticket.resolution) == (None, None, "[erased]")
        assert (ticket.state, ticket.cause) == ("resolved", "consultant")
        assert all(e.note is None for e in ticket.events)


def test_the_cli_lists_shows_moves_and_exports(
    database_url: str, sessions: SessionFactory, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    ticket_id = survey_ticket(sessions)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("USER", "desk")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["tickets", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("list")
    assert code == 0
    assert f"{ticket_id}\topen\tsurvey" in out
    assert "张伟" in out
    assert run("progress", str(ticket_id), "--note", "已联系")[:2] == (
        0,
        f"ticket #{ticket_id} in_progress\n",
    )
    code, _, err = run("resolve", "999", "--note", "x")
    assert (code, err) == (2, "not changed: no ticket #999\n")
    assert run("resolve", str(ticket_id), "--note", "x", "--cause", "weather")[0] == 2
    assert run("resolve", str(ticket_id), "--note", "顾问已培训", "--cause", "consultant")[0] == 0
    code, _, err = run("resolve", str(ticket_id), "--note", "again")
    assert code == 2
    assert "resolved" in err
    code, out, _ = run("show", str(ticket_id))
    assert code == 0
    assert "resolution: 顾问已培训" in out
    assert "in_progress (cli:desk): 已联系" in out
    assert run("show", "404")[0] == 2
    assert run("list")[1] == "no tickets\n"
    code, out, _ = run("export", "--format", "json")
    [exported] = json.loads(out)
    assert (exported["id"], exported["state"], exported["cause"]) == (
        ticket_id,
        "resolved",
        "consultant",
    )
    assert [e["actor"] for e in exported["events"]] == ["assistant", "cli:desk", "cli:desk"]


async def test_a_complaint_opens_a_ticket_and_the_customer_hears_its_number(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    services = make_services(make_settings(tmp_path, ticket_escalate_hours=6), sessions, lambda: AT)
    tracker = user_turn("你们的销售态度太差了，我要投诉", "complain", sender="web-1")
    dispatcher = CollectingDispatcher()
    await ActionHandOff(services).run(dispatcher, tracker, load_domain())
    [registered, handed_off] = dispatcher.messages
    assert registered["response"] == "utter_complaint_registered"
    assert handed_off["response"] == "utter_handoff_now"
    with sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
        handoff = session.scalars(select(Handoff)).one()
        assert (ticket.source, ticket.sender_id, ticket.handoff_id) == (
            "conversation",
            "web-1",
            handoff.id,
        )
        assert ticket.summary == "你们的销售态度太差了，我要投诉"
        assert ticket.excerpt == handoff.excerpt == [{"who": "customer", "text": ticket.summary}]
        assert ticket.cause is None
        assert ticket.language == "zh"
    said = response_text(registered["response"], "zh", ticket=registered["ticket"],
                         hours=registered["hours"])  # fmt: skip
    assert f"编号 #{ticket.id}" in said
    assert "6小时内" in said
    english = response_text(registered["response"], "en", ticket=ticket.id, hours=6)
    assert f"complaint as #{ticket.id}" in english
    assert "within 6 hours" in english
    again = CollectingDispatcher()
    await ActionHandOff(services).run(again, tracker, load_domain())
    assert [m["response"] for m in again.messages] == [
        "utter_complaint_noted",
        "utter_handoff_already",
    ]
    assert again.messages[0]["ticket"] == ticket.id


async def test_without_the_database_the_complaint_is_still_handed_off(
    sessions: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
    services = make_services(make_settings(tmp_path), sessions, lambda: AT)

    async def unreachable(self: Services, work: object) -> object:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(Services, "in_transaction", unreachable)
    dispatcher = CollectingDispatcher()
    tracker = user_turn("I want to complain", "complain", sender="rest-5")
    await ActionHandOff(services).run(dispatcher, tracker, load_domain())
    said = [m["response"] for m in dispatcher.messages]
    assert said == ["utter_handoff_complaint", "utter_handoff_now"]  # no number to promise
