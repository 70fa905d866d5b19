"""Revisit surveys on SQLite and PostgreSQL: the configuration file and its validation, the
surveys a delivery schedules, what the scheduler finds due and what expires, answers question by
question, the personal links (single-use, expiring, unguessable), and the `deliveries` and
`surveys` commands."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli import main
from crm_bridge import deliveries, sales
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.models import Consultant, Conversation, Customer, Delivery, Lead, Survey
from crm_bridge.settings import Settings
from crm_bridge.surveys import links, service
from crm_bridge.surveys.config import SCALE_RANGE, SurveyConfig, load

ZONE = ZoneInfo("Asia/Shanghai")
DELIVERED = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)  # Monday 12:00 in Shanghai
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # the clock of the CLI tests
KEY = b"k" * 32
PHONE = "+8613800138000"
SURVEY_FIELDS = [
    "id", "kind", "customer", "phone", "scheduled_for", "sent_at", "completed_at", "answers",
    "complaint",
]  # fmt: skip


@pytest.fixture
def config(settings: Settings) -> SurveyConfig:
    """The repository's config/surveys.yml."""
    return load(settings.survey_config_path)


def seed(sessions: SessionFactory) -> None:
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())


def customer(session: Session, phone: str = PHONE, name: str | None = "张伟") -> Customer:
    row = Customer(phone=phone, name=name, consent=True, created_at=DELIVERED)
    session.add(row)
    session.flush()
    return row


def conversation(
    session: Session, sender: str, customer_id: int, last: datetime, language: str = "en"
) -> Conversation:
    row = Conversation(sender_id=sender, channel="telegram", language=language,
                       customer_id=customer_id, started_at=last, last_message_at=last)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def deliver(
    session: Session, config: SurveyConfig, buyer: Customer, vin: str | None = None
) -> Delivery:
    return sales.record_delivery(
        session, None, lead_id=None, model="Q5L", vin=vin, now=DELIVERED, customer=buyer,
        surveys=config, delivered_at=DELIVERED, source="cli",
    )  # fmt: skip


def surveys_of(session: Session, delivery_id: int) -> dict[str, Survey]:
    rows = session.scalars(select(Survey).where(Survey.delivery_id == delivery_id)).all()
    return {row.stage or "": row for row in rows}


def delivered(sessions: SessionFactory, config: SurveyConfig, sender: str | None = None) -> int:
    """A delivery to 张伟 (with a conversation ``sender`` when given); its id."""
    with transaction(sessions) as session:
        buyer = customer(session)
        if sender is not None:
            conversation(session, sender, buyer.id, DELIVERED - timedelta(days=3))
        return deliver(session, config, buyer).id


# The configuration --------------------------------------------------------------------------


def test_the_repository_configuration_loads_with_the_documented_stages(
    config: SurveyConfig,
) -> None:
    revisits = config.kinds["post_delivery"].stages
    assert [(s.id, s.after) for s in revisits] == [
        ("d1", timedelta(hours=24)),
        ("d7", timedelta(days=7)),
        ("d30", timedelta(days=30)),
    ]
    [test_drive] = config.kinds["post_test_drive"].stages
    assert timedelta(hours=1) <= test_drive.after <= timedelta(hours=12)
    assert config.reminder_after == timedelta(hours=48)
    assert config.link_valid_days == 14
    assert (config.low_score.satisfaction, config.low_score.recommend) == (2, 6)


def test_the_questions_have_their_scales_and_both_languages(config: SurveyConfig) -> None:
    scales = {q: spec.scale for q, spec in config.questions.items()}
    assert {q: scales[q] for q in ("consultant", "delivery", "car", "recommend", "comment")} == {
        "consultant": "satisfaction",
        "delivery": "satisfaction",
        "car": "satisfaction",
        "recommend": "recommend",
        "comment": "text",
    }
    assert SCALE_RANGE == {"satisfaction": (1, 5), "recommend": (0, 10)}
    for spec in config.questions.values():
        assert spec.text.get("zh") != spec.text.get("en")
        assert spec.text.get("zh") == spec.text.zh
        assert spec.text.get(None) == spec.text.zh
    assert config.questions["consultant"].text.get("en").startswith("How satisfied")
    asked = [q for stage in config.kinds["post_delivery"].stages for q in stage.questions]
    assert set(asked) <= set(config.questions)
    assert config.questions_of("post_delivery", "d1")[0][0] == "consultant"
    assert config.stage("post_delivery", None).id == "d1"  # older rows without a stage


def _broken(data: dict[str, Any], change: str) -> None:
    questions = data["questions"]
    stages = data["kinds"]["post_delivery"]["stages"]
    if change == "unknown question":
        stages[0]["questions"].append("mood")
    elif change == "asked twice":
        stages[1]["questions"] = ["car", "comment", "car"]
    elif change == "missing kind":
        del data["kinds"]["post_test_drive"]
    elif change == "missing English":
        del questions["consultant"]["text"]["en"]
    elif change == "empty Chinese":
        questions["car"]["text"]["zh"] = ""
    elif change == "unknown scale":
        questions["car"]["scale"] = "stars"
    elif change == "repeated stage":
        stages[2]["id"] = "d7"
    elif change == "no stages":
        data["kinds"]["post_delivery"]["stages"] = []
    elif change == "typo in a key":
        data["reminder_afer_hours"] = 12


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unknown question", r"post_delivery\.d1: unknown questions \['mood'\]"),
        ("asked twice", r"post_delivery\.d7: a question is asked twice"),
        ("missing kind", r"kinds must be exactly post_delivery and post_test_drive"),
        ("missing English", r"questions\.consultant\.text\.en\s+Field required"),
        ("empty Chinese", r"questions\.car\.text\.zh\s+String should have at least 1 character"),
        ("unknown scale", r"questions\.car\.scale\s+Input should be 'satisfaction'"),
        ("repeated stage", r"post_delivery: stage ids repeat"),
        ("no stages", r"kinds\.post_delivery\.stages\s+List should have at least 1 item"),
        ("typo in a key", r"reminder_afer_hours\s+Extra inputs are not permitted"),
    ],
)
def test_a_broken_configuration_is_refused_with_a_clear_error(
    settings: Settings, tmp_path: Path, change: str, message: str
) -> None:
    data = yaml.safe_load(settings.survey_config_path.read_text(encoding="utf-8"))
    _broken(data, change)
    path = tmp_path / "surveys.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load(path)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "surveys.yml"
    path.write_text("- d1\n- d7\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a mapping at the top"):
        load(path)


@pytest.mark.parametrize(
    ("question", "value", "low"),
    [("consultant", 1, True), ("consultant", 2, True), ("consultant", 3, False),
     ("car", 5, False), ("recommend", 0, True), ("recommend", 6, True), ("recommend", 7, False),
     ("comment", 1, False), ("comment", "差", False), ("consultant", None, False),
     ("consultant", True, False)],
)  # fmt: skip
def test_low_scores(config: SurveyConfig, question: str, value: object, low: bool) -> None:
    assert config.is_low(question, value) is low


# Scheduling from a delivery -----------------------------------------------------------------


def test_a_delivery_schedules_three_revisits_once(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config)
    with sessions() as session:
        rows = surveys_of(session, delivery_id)
        assert {stage: row.scheduled_for for stage, row in rows.items()} == {
            "d1": DELIVERED + timedelta(hours=24),
            "d7": DELIVERED + timedelta(days=7),
            "d30": DELIVERED + timedelta(days=30),
        }
        buyer = session.scalars(select(Customer)).one()
        for row in rows.values():
            assert (row.kind, row.customer_id, row.answers, row.complaint) == (
                "post_delivery", buyer.id, {}, False,
            )  # fmt: skip
            assert (row.sender_id, row.sent_at, row.completed_at, row.closed_at) == (None,) * 4
    with transaction(sessions) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        assert service.schedule_delivery(session, delivery, config) == []
        assert service.schedule_delivery(session, delivery, config) == []
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Survey)) == 3


def test_surveys_bind_to_the_customers_latest_conversation(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    with transaction(sessions) as session:
        buyer = customer(session)
        conversation(session, "web-old", buyer.id, DELIVERED - timedelta(days=2), "zh")
        conversation(session, "telegram:77", buyer.id, DELIVERED - timedelta(hours=5), "en")
        conversation(session, "web-older", buyer.id, DELIVERED - timedelta(days=9), "zh")
        other = customer(session, "+8613900139000", "李娜")
        conversation(session, "web-not-theirs", other.id, DELIVERED - timedelta(minutes=1))
        delivery_id = deliver(session, config, buyer).id
    with sessions() as session:
        bound = {
            (s.sender_id, s.channel, s.language) for s in surveys_of(session, delivery_id).values()
        }
        assert bound == {("telegram:77", "telegram", "en")}


def test_a_delivery_through_a_lead_reaches_the_leads_conversation(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    with transaction(sessions) as session:
        lead = Lead(status="qualified", channel="web", language="zh")
        session.add(lead)
        session.flush()
        session.add(Conversation(sender_id="web-lead", channel="web", language="zh",
                                 lead_id=lead.id, last_message_at=DELIVERED))  # fmt: skip
        delivery = sales.record_delivery(
            session, None, lead_id=lead.id, model="q5l", vin=None, now=DELIVERED,
            surveys=config,
        )  # fmt: skip
        assert lead.status == "won"
        assert {s.sender_id for s in surveys_of(session, delivery.id).values()} == {"web-lead"}


# Due and expired ----------------------------------------------------------------------------


def test_nothing_is_due_without_a_conversation(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivered(sessions, config)
    with transaction(sessions) as session:
        assert service.due(session, config, DELIVERED + timedelta(days=3)) == []
        assert service.due(session, config, DELIVERED + timedelta(days=40)) == []


def test_due_ask_jobs_at_their_time_or_now_if_later(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config, sender="telegram:77")
    now = DELIVERED + timedelta(days=2)
    with transaction(sessions) as session:
        ids = {s.stage: s.id for s in surveys_of(session, delivery_id).values()}
        jobs = service.due(session, config, now)
    assert sorted(jobs, key=lambda d: d.run_at) == [
        service.Due(ids["d1"], f"survey:{delivery_id}:d1", now, "ask"),
        service.Due(ids["d7"], f"survey:{delivery_id}:d7", DELIVERED + timedelta(days=7), "ask"),
        service.Due(ids["d30"], f"survey:{delivery_id}:d30", DELIVERED + timedelta(days=30),
                    "ask"),
    ]  # fmt: skip


def test_a_conversation_started_later_is_found_and_bound(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config)
    with transaction(sessions) as session:
        buyer = session.scalars(select(Customer)).one()
        conversation(session, "web-9", buyer.id, DELIVERED + timedelta(days=1))
    now = DELIVERED + timedelta(days=1, hours=2)
    with transaction(sessions) as session:
        jobs = service.due(session, config, now)
        assert {job.job_id for job in jobs} == {
            f"survey:{delivery_id}:{stage}" for stage in ("d1", "d7", "d30")
        }
    with sessions() as session:
        assert {s.sender_id for s in surveys_of(session, delivery_id).values()} == {"web-9"}


def test_a_sent_survey_is_reminded_once_after_48_hours(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config, sender="telegram:77")
    sent = DELIVERED + timedelta(hours=25)
    with transaction(sessions) as session:
        d1 = surveys_of(session, delivery_id)["d1"]
        service.mark_sent(session, d1.id, "ask", sent)
        service.mark_sent(session, d1.id, "ask", sent + timedelta(hours=1))  # kept: the first
    with transaction(sessions) as session:
        survey = session.get(Survey, d1.id)
        assert survey is not None
        assert (survey.sent_at, survey.reminded_at) == (sent, None)

        def d1_jobs(now: datetime) -> list[service.Due]:
            return [job for job in service.due(session, config, now) if job.survey_id == d1.id]

        reminder = f"survey:{delivery_id}:d1:reminder"
        at = sent + timedelta(hours=48)
        assert d1_jobs(sent) == [service.Due(d1.id, reminder, at, "reminder")]
        late = sent + timedelta(hours=60)
        assert d1_jobs(late) == [service.Due(d1.id, reminder, late, "reminder")]
        assert service.job_id(survey, "reminder") == reminder
        service.mark_sent(session, d1.id, "reminder", at)
        session.flush()
        assert d1_jobs(at) == []
        assert d1_jobs(at + timedelta(days=30)) == []


def test_finished_and_closed_surveys_are_not_due(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config, sender="telegram:77")
    with transaction(sessions) as session:
        rows = surveys_of(session, delivery_id)
        rows["d1"].completed_at = DELIVERED + timedelta(days=1)
        assert service.close_for_conversation(session, "telegram:77", "opted_out", NOW) == 2
        session.flush()
        assert service.due(session, config, DELIVERED + timedelta(days=2)) == []


def test_an_unsent_survey_is_closed_as_expired_seven_days_after_falling_due(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config)
    d1_due = DELIVERED + timedelta(hours=24)
    with transaction(sessions) as session:
        assert service.expire(session, d1_due + timedelta(days=7, minutes=-1)) == 0
    expired_at = d1_due + timedelta(days=7, minutes=1)
    with transaction(sessions) as session:
        assert service.expire(session, expired_at) == 1
        assert service.expire(session, expired_at + timedelta(hours=1)) == 0  # once
    with sessions() as session:
        rows = surveys_of(session, delivery_id)
        assert (rows["d1"].closed_at, rows["d1"].closed_reason) == (expired_at, "expired")
        assert rows["d7"].closed_at is None
        assert rows["d30"].closed_at is None


def test_a_sent_survey_never_expires(sessions: SessionFactory, config: SurveyConfig) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config, sender="telegram:77")
    with transaction(sessions) as session:
        d1 = surveys_of(session, delivery_id)["d1"]
        service.mark_sent(session, d1.id, "ask", DELIVERED + timedelta(hours=24))
    with transaction(sessions) as session:
        # d7 (due on day 7) is unsent for more than 7 days by day 15; d1 was sent.
        assert service.expire(session, DELIVERED + timedelta(days=15)) == 1
    with sessions() as session:
        rows = surveys_of(session, delivery_id)
        assert [rows[s].closed_reason for s in ("d1", "d7", "d30")] == [None, "expired", None]


# Answers ------------------------------------------------------------------------------------


def sent_d1(sessions: SessionFactory, config: SurveyConfig) -> int:
    delivery_id = delivered(sessions, config, sender="telegram:77")
    with transaction(sessions) as session:
        d1 = surveys_of(session, delivery_id)["d1"]
        service.mark_sent(session, d1.id, "ask", DELIVERED + timedelta(hours=24))
        return d1.id


def test_answers_are_saved_question_by_question_until_complete(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    survey_id = sent_d1(sessions, config)
    at = DELIVERED + timedelta(hours=25)
    expected: dict[str, object] = {}
    for question, value, following in (
        ("consultant", 4, "delivery"),
        ("delivery", 5, "recommend"),
        ("recommend", 9, "comment"),
    ):
        with transaction(sessions) as session:
            survey = service.open_survey(session, "telegram:77")
            assert survey is not None
            assert survey.id == survey_id
            assert service.current_question(survey, config) == question
            assert service.answer(session, survey, question, value, at, config) == following
        expected[question] = value
        with sessions() as session:  # kept even if the customer leaves here
            saved = session.get(Survey, survey_id)
            assert saved is not None
            assert (saved.answers, saved.completed_at) == (expected, None)
            assert service.current_question(saved, config) == following
    done = at + timedelta(minutes=3)
    with transaction(sessions) as session:
        survey = service.open_survey(session, "telegram:77")
        assert survey is not None
        assert service.answer(session, survey, "comment", "交车很顺利", done, config) is None
    with sessions() as session:
        saved = session.get(Survey, survey_id)
        assert saved is not None
        assert saved.answers == {**expected, "comment": "交车很顺利"}
        assert (saved.completed_at, saved.complaint) == (done, False)
        assert service.current_question(saved, config) is None
        assert service.open_survey(session, "telegram:77") is None


def test_a_skipped_comment_still_completes_the_survey(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    survey_id = sent_d1(sessions, config)
    with transaction(sessions) as session:
        survey = session.get(Survey, survey_id)
        assert survey is not None
        for question, value in (("consultant", 5), ("delivery", 5), ("recommend", 10)):
            service.answer(session, survey, question, value, NOW, config)
        assert service.answer(session, survey, "comment", None, NOW, config) is None
        assert (survey.answers["comment"], survey.completed_at) == (None, NOW)


@pytest.mark.parametrize(
    ("low_question", "value", "complaint"),
    [("consultant", 2, True), ("consultant", 3, False), ("delivery", 1, True),
     ("recommend", 6, True), ("recommend", 7, False)],
)  # fmt: skip
def test_a_low_score_makes_the_survey_a_complaint(
    sessions: SessionFactory, config: SurveyConfig, low_question: str, value: int,
    complaint: bool,
) -> None:  # fmt: skip
    seed(sessions)
    survey_id = sent_d1(sessions, config)
    answers: dict[str, object] = {"consultant": 5, "delivery": 5, "recommend": 10, "comment": "ok"}
    answers[low_question] = value
    with transaction(sessions) as session:
        survey = session.get(Survey, survey_id)
        assert survey is not None
        for question, given in answers.items():
            service.answer(session, survey, question, given, NOW, config)
    with sessions() as session:
        saved = session.get(Survey, survey_id)
        assert saved is not None
        assert (saved.complaint, saved.completed_at) == (complaint, NOW)


def test_a_complaint_stays_after_good_answers(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    survey_id = sent_d1(sessions, config)
    with transaction(sessions) as session:
        survey = session.get(Survey, survey_id)
        assert survey is not None
        service.answer(session, survey, "consultant", 1, NOW, config)
        assert survey.complaint is True
        service.answer(session, survey, "delivery", 5, NOW, config)
        assert survey.complaint is True


def test_retries_count_until_an_answer_fits(sessions: SessionFactory, config: SurveyConfig) -> None:
    seed(sessions)
    survey_id = sent_d1(sessions, config)
    with transaction(sessions) as session:
        survey = session.get(Survey, survey_id)
        assert survey is not None
        assert [service.retry(session, survey) for _ in range(3)] == [1, 2, 3]
    with transaction(sessions) as session:
        survey = session.get(Survey, survey_id)
        assert survey is not None
        assert survey.retries == 3
        assert service.current_question(survey, config) == "consultant"  # still the same one
        service.answer(session, survey, "consultant", 4, NOW, config)
        assert survey.retries == 0
        assert service.retry(session, survey) == 1


# Personal links -----------------------------------------------------------------------------


def issued(sessions: SessionFactory, now: datetime, key: bytes = KEY) -> list[links.Link]:
    with transaction(sessions) as session:
        return links.issue(session, key, now, timedelta(days=14))


def redeem(sessions: SessionFactory, token: str, now: datetime, sender: str = "web-5") -> Survey:
    with transaction(sessions) as session:
        return links.redeem(session, token, sender_id=sender, channel="web", language="en", now=now)


def refusal(sessions: SessionFactory, token: str, now: datetime) -> str:
    with pytest.raises(links.LinkRefused) as refused:
        redeem(sessions, token, now, sender="web-6")
    return refused.value.reason


def test_tokens_are_unguessable_url_safe_and_stored_only_hashed(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config)
    issue_at = DELIVERED + timedelta(hours=30)
    first = issued(sessions, issue_at)
    tokens = [link.token for link in first]
    assert len(tokens) == len(set(tokens)) == 3
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(base64.urlsafe_b64decode(token + "==")) * 8 >= 128
    assert [link.token for link in issued(sessions, issue_at, b"another dealer")] != tokens
    again = issued(sessions, issue_at + timedelta(days=3))  # printed again: the same links
    assert [link.token for link in again] == tokens
    with sessions() as session:
        rows = surveys_of(session, delivery_id)
        by_id = {row.id: row for row in rows.values()}
        for link in first:
            row = by_id[link.survey_id]
            assert row.token_hash == hashlib.sha256(link.token.encode()).hexdigest()
            assert link.token not in (row.token_hash or "")
            assert (link.kind, link.stage, link.customer, link.phone) == (
                "post_delivery", row.stage, "张伟", PHONE,
            )  # fmt: skip
            # the expiry: from when it is due (or issued, if later), set once
            assert link.expires_at == max(issue_at, row.scheduled_for) + timedelta(days=14)
            assert row.token_expires_at == link.expires_at
        assert [link.expires_at for link in again] == [link.expires_at for link in first]


def test_a_link_works_once_and_binds_the_survey_to_its_conversation(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivered(sessions, config)
    [d1, *_] = issued(sessions, DELIVERED + timedelta(hours=24))
    assert d1.stage == "d1"
    opened_at = DELIVERED + timedelta(days=2)
    survey = redeem(sessions, d1.token, opened_at)
    assert (survey.id, survey.sender_id, survey.channel, survey.language) == (
        d1.survey_id, "web-5", "web", "en",
    )  # fmt: skip
    assert (survey.token_used_at, survey.sent_at) == (opened_at, opened_at)
    with sessions() as session:
        opened = service.open_survey(session, "web-5")
        assert opened is not None
        assert opened.id == d1.survey_id
        assert service.current_question(opened, config) == "consultant"
    assert refusal(sessions, d1.token, opened_at + timedelta(minutes=1)) == "used"
    with sessions() as session:  # the second try changed nothing
        row = session.get(Survey, d1.survey_id)
        assert row is not None
        assert (row.sender_id, row.token_used_at) == ("web-5", opened_at)
    # neither the scheduler nor the next `surveys links` sends it again
    later = [link.survey_id for link in issued(sessions, opened_at + timedelta(hours=1))]
    assert d1.survey_id not in later
    assert len(later) == 2


def test_a_link_expires(sessions: SessionFactory, config: SurveyConfig) -> None:
    seed(sessions)
    delivered(sessions, config)
    [d1, d7, _] = issued(sessions, DELIVERED + timedelta(hours=24))
    assert d1.expires_at == DELIVERED + timedelta(days=15)
    assert refusal(sessions, d1.token, d1.expires_at) == "expired"
    assert refusal(sessions, d1.token, d1.expires_at + timedelta(days=1)) == "expired"
    assert redeem(sessions, d7.token, d7.expires_at - timedelta(seconds=1)).id == d7.survey_id


@pytest.mark.parametrize(
    "forge",
    ["made up", "tampered", "another key", "too long", "not url-safe", "empty", "hash itself"],
)
def test_a_made_up_or_tampered_token_is_refused(
    sessions: SessionFactory, config: SurveyConfig, forge: str
) -> None:
    seed(sessions)
    delivered(sessions, config)
    [d1, *_] = issued(sessions, DELIVERED)
    token = d1.token
    fake = {
        "made up": secrets.token_urlsafe(16),
        "tampered": token[:5] + ("A" if token[5] != "A" else "B") + token[6:],
        "another key": links.token_for(b"not the dealers key", d1.survey_id),
        "too long": token + "A",
        "not url-safe": token[:-2] + "+/",
        "empty": "",
        "hash itself": hashlib.sha256(token.encode()).hexdigest(),
    }[forge]
    assert fake != token
    assert refusal(sessions, fake, DELIVERED + timedelta(days=1)) == "unknown"
    assert redeem(sessions, token, DELIVERED + timedelta(days=1)).id == d1.survey_id  # intact


def test_a_link_to_a_finished_survey_is_refused(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config)
    [d1, *_] = issued(sessions, DELIVERED)
    with transaction(sessions) as session:
        surveys_of(session, delivery_id)["d1"].completed_at = DELIVERED + timedelta(hours=30)
    assert refusal(sessions, d1.token, DELIVERED + timedelta(days=2)) == "finished"


def test_links_are_only_for_surveys_not_yet_sent(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config)
    with transaction(sessions) as session:
        rows = surveys_of(session, delivery_id)
        service.mark_sent(session, rows["d1"].id, "ask", DELIVERED + timedelta(days=1))
        rows["d30"].closed_at = NOW
        rows["d30"].closed_reason = "expired"
    assert [link.stage for link in issued(sessions, NOW)] == ["d7"]


def test_no_link_for_a_survey_the_scheduler_sends_in_a_conversation(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config)
    with transaction(sessions) as session:
        rows = surveys_of(session, delivery_id)
        rows["d7"].sender_id, rows["d7"].channel = "telegram:77", "telegram"
    assert [link.stage for link in issued(sessions, NOW)] == ["d1", "d30"]


def test_a_handed_out_link_keeps_its_survey_open_until_the_link_expires(
    sessions: SessionFactory, config: SurveyConfig
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config)
    d1_due = DELIVERED + timedelta(hours=24)
    [link, *_] = issued(sessions, d1_due)  # valid 14 days from the due time
    with transaction(sessions) as session:
        assert service.expire(session, d1_due + timedelta(days=8)) == 0
    assert redeem(sessions, link.token, d1_due + timedelta(days=8)).id == link.survey_id
    with transaction(sessions) as session:
        rows = surveys_of(session, delivery_id)
        assert rows["d1"].closed_at is None


# `deliveries add` and `deliveries import` ---------------------------------------------------

CSV_ROWS = [
    ",".join(deliveries.HEADER),
    "13800138000,张伟,Q5L,2026-11-20,王磊,LFV3A28K8N3000001",  # line 2: good
    "+86 139 0013 9000,Li Na,a6l,2026-11-21T15:30,,",  # line 3: good (code in lower case)
    "1380013800,王芳,Q5L,2026-11-20,,",  # line 4: a digit short
    "13700137000,赵强,Q5L,2026-02-30,,",  # line 5: no such day
    "13500135000,孙丽",  # line 6: columns missing
    "13400134000,周杰,Q7,2026-11-20,,LFV3A28K8N3000001",  # line 7: the VIN of line 2
    "13300133000,吴敏,Q7,2026-12-05,,",  # line 8: in the future
    "13200132000,郑浩,Q7,2026-11-20,赵六,",  # line 9: no such consultant
    "13100131000,钱多,Q9,2026-11-20,,",  # line 10: no such model
]


@pytest.fixture
def cli(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:  # fmt: skip
    """`dealer-assistant` on the test database, with the clock at NOW: (exit code, out, err)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@XingchenAudiBot")
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", "https://chat.example.com/")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SURVEY_CONFIG", raising=False)
    monkeypatch.setattr("crm_bridge.types.utcnow", lambda: NOW)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_deliveries_import_keeps_good_rows_and_reports_bad_ones_by_line(
    sessions: SessionFactory, cli: Any, tmp_path: Path
) -> None:
    seed(sessions)
    path = tmp_path / "dms.csv"
    path.write_text("\ufeff" + "\n".join(CSV_ROWS) + "\n\n", encoding="utf-8")
    code, out, err = cli("deliveries", "import", str(path))
    assert code == 1
    assert out == "imported 2 deliveries, 7 rows rejected\n"
    reported = {int(line.split(":")[1]): line for line in err.splitlines()}
    assert sorted(reported) == [4, 5, 6, 7, 8, 9, 10]
    assert all(line.startswith(f"{path}:") for line in reported.values())
    assert "not a valid phone number: '1380013800'" in reported[4]
    assert "'2026-02-30' is not an ISO 8601 date" in reported[5]
    assert "phone and model are required" in reported[6]
    assert "LFV3A28K8N3000001 was delivered already" in reported[7]
    assert "in the future" in reported[8]
    assert "no consultant named '赵六'" in reported[9]
    assert "unknown model" in reported[10]
    with sessions() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [(d.model_code, d.vin, d.source) for d in rows] == [
            ("Q5L", "LFV3A28K8N3000001", "import"),
            ("A6L", None, "import"),
        ]
        assert [d.delivered_at for d in rows] == [
            datetime(2026, 11, 20, 12, 0, tzinfo=ZONE),  # a date alone: noon, dealer's time
            datetime(2026, 11, 21, 15, 30, tzinfo=ZONE),
        ]
        wang = session.scalars(select(Consultant).where(Consultant.name == "王磊")).one()
        assert [d.consultant_id for d in rows] == [wang.id, None]
        people = session.scalars(select(Customer).order_by(Customer.id)).all()
        assert [(c.phone, c.name) for c in people] == [
            ("+8613800138000", "张伟"),
            ("+8613900139000", "Li Na"),
        ]  # nothing of the bad rows
        for delivery in rows:
            scheduled = {
                s.stage: s.scheduled_for for s in surveys_of(session, delivery.id).values()
            }
            assert scheduled == {
                "d1": delivery.delivered_at + timedelta(days=1),
                "d7": delivery.delivered_at + timedelta(days=7),
                "d30": delivery.delivered_at + timedelta(days=30),
            }
        assert session.scalar(select(func.count()).select_from(Survey)) == 6


def test_deliveries_import_of_only_good_rows_exits_0(
    sessions: SessionFactory, cli: Any, tmp_path: Path
) -> None:
    seed(sessions)
    path = tmp_path / "dms.csv"
    path.write_text("\n".join(CSV_ROWS[:3]) + "\n", encoding="utf-8")
    assert cli("deliveries", "import", str(path)) == (
        0, "imported 2 deliveries, 0 rows rejected\n", "",
    )  # fmt: skip


def test_deliveries_import_refuses_a_file_without_the_required_columns(
    sessions: SessionFactory, cli: Any, tmp_path: Path
) -> None:
    seed(sessions)
    path = tmp_path / "dms.csv"
    path.write_text("phone,name,delivered_at\n13800138000,张伟,2026-11-20\n", encoding="utf-8")
    code, out, err = cli("deliveries", "import", str(path))
    assert (code, out) == (2, "")
    assert "phone,name,model,delivered_at,consultant,vin (missing: model)" in err
    assert "Traceback" not in err
    missing = cli("deliveries", "import", str(tmp_path / "nowhere.csv"))
    assert missing[0] == 2
    assert "cannot read" in missing[2]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_deliveries_import_reads_an_excel_gbk_file(
    sessions: SessionFactory, cli: Any, tmp_path: Path
) -> None:
    seed(sessions)
    path = tmp_path / "dms.csv"
    path.write_bytes("\n".join(CSV_ROWS[:2]).encode("gb18030"))
    assert cli("deliveries", "import", str(path))[0] == 0
    with sessions() as session:
        assert session.scalars(select(Customer.name)).all() == ["张伟"]


def test_deliveries_add_records_one_and_prints_its_id(sessions: SessionFactory, cli: Any) -> None:
    seed(sessions)
    with transaction(sessions) as session:
        buyer = customer(session, name=None)
        lead = Lead(customer_id=buyer.id, status="qualified", channel="web", language="zh")
        session.add(lead)
        session.flush()
        lead_id = lead.id
    code, out, err = cli(
        "deliveries", "add", "--phone", "138 0013 8000", "--model", "Q7", "--name", "张伟",
        "--delivered-at", "2026-11-25T10:00", "--consultant", "李娜", "--vin",
        "lfv3a28k8n3000009",
    )  # fmt: skip
    assert (code, err) == (0, "")
    with sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert out == f"{delivery.id}\n"
        assert (delivery.model_code, delivery.vin, delivery.delivered_at, delivery.lead_id) == (
            "Q7", "LFV3A28K8N3000009", datetime(2026, 11, 25, 10, 0, tzinfo=ZONE), lead_id,
        )  # fmt: skip
        li = session.scalars(select(Consultant).where(Consultant.name == "李娜")).one()
        assert delivery.consultant_id == li.id
        won = session.get(Lead, lead_id)
        assert won is not None
        assert won.status == "won"
        assert session.scalars(select(Customer.name)).all() == ["张伟"]  # the name filled in
        assert {s.stage: s.scheduled_for for s in surveys_of(session, delivery.id).values()} == {
            "d1": datetime(2026, 11, 26, 10, 0, tzinfo=ZONE),
            "d7": datetime(2026, 12, 2, 10, 0, tzinfo=ZONE),
            "d30": datetime(2026, 12, 25, 10, 0, tzinfo=ZONE),
        }


def test_deliveries_add_without_a_time_is_now_and_refuses_bad_input(
    sessions: SessionFactory, cli: Any
) -> None:
    seed(sessions)
    code, out, _ = cli("deliveries", "add", "--phone", "13900139000", "--model", "q5l")
    assert code == 0
    for argv, reason in (
        (("--phone", "12345", "--model", "Q5L"), "not a valid phone number"),
        (("--phone", "13700137000", "--model", "Q7", "--consultant", "赵六"), "no consultant"),
        (("--phone", "13700137000", "--model", "Q7", "--delivered-at", "2026-02-30"), "ISO 8601"),
    ):
        refused = cli("deliveries", "add", *argv)
        assert refused[0] == 2, argv
        assert refused[2].startswith("not recorded: "), argv
        assert reason in refused[2], argv
    with sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert out == f"{delivery.id}\n"
        assert (delivery.model_code, delivery.delivered_at) == ("Q5L", NOW)
        assert session.scalar(select(func.count()).select_from(Customer)) == 1


# `surveys export` and `surveys links` -------------------------------------------------------


def test_surveys_export_prints_the_contracts_fields(
    sessions: SessionFactory, config: SurveyConfig, cli: Any
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config, sender="telegram:77")
    sent, done = DELIVERED + timedelta(hours=24), DELIVERED + timedelta(hours=26)
    answers = {"consultant": 2, "delivery": 4, "recommend": 8, "comment": "顾问回复太慢"}
    with transaction(sessions) as session:
        rows = surveys_of(session, delivery_id)
        service.mark_sent(session, rows["d1"].id, "ask", sent)
        for question, value in answers.items():
            service.answer(session, rows["d1"], question, value, done, config)
        service.answer(session, rows["d7"], "car", 5, done, config)  # half-way
        ids = {stage: row.id for stage, row in rows.items()}
    code, out, err = cli("surveys", "export", "--format", "json")
    assert (code, err) == (0, "")
    records = json.loads(out)
    assert all(list(record) == SURVEY_FIELDS for record in records)
    assert [r["id"] for r in records] == [ids["d1"], ids["d7"], ids["d30"]]
    d1, d7, d30 = records
    assert d1 == {
        "id": ids["d1"], "kind": "post_delivery", "customer": "张伟", "phone": PHONE,
        "scheduled_for": "2026-11-03T12:00:00+08:00", "sent_at": "2026-11-03T12:00:00+08:00",
        "completed_at": "2026-11-03T14:00:00+08:00", "answers": answers, "complaint": True,
    }  # fmt: skip
    assert d7 == {
        "id": ids["d7"], "kind": "post_delivery", "customer": "张伟", "phone": PHONE,
        "scheduled_for": "2026-11-09T12:00:00+08:00", "sent_at": None, "completed_at": None,
        "answers": {"car": 5}, "complaint": False,
    }  # fmt: skip
    assert (d30["scheduled_for"], d30["answers"], d30["complaint"]) == (
        "2026-12-02T12:00:00+08:00", {}, False,
    )  # fmt: skip


def test_surveys_export_of_an_empty_database_is_an_empty_array(cli: Any) -> None:
    assert cli("surveys", "export", "--format", "json") == (0, "[]\n", "")


def test_surveys_links_gives_one_telegram_and_web_link_per_unsent_survey(
    sessions: SessionFactory, config: SurveyConfig, cli: Any
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config)  # 张伟 never chatted
    with transaction(sessions) as session:
        rows = surveys_of(session, delivery_id)
        rows["d1"].closed_at, rows["d1"].closed_reason = NOW, "expired"
        ids = {stage: row.id for stage, row in rows.items()}
    code, out, err = cli("surveys", "links", "--format", "json")
    assert (code, err) == (0, "")
    printed = json.loads(out)
    assert [(r["survey_id"], r["stage"]) for r in printed] == [
        (ids["d7"], "d7"),
        (ids["d30"], "d30"),
    ]
    for row in printed:
        assert (row["kind"], row["customer"], row["phone"]) == ("post_delivery", "张伟", PHONE)
        match = re.fullmatch(r"https://t\.me/XingchenAudiBot\?start=survey-([A-Za-z0-9_-]{22})",
                             row["telegram"])  # fmt: skip
        assert match is not None, row["telegram"]
        token = match.group(1)
        assert row["web"] == f"https://chat.example.com/?survey={token}"
    d7, d30 = printed
    assert d7["scheduled_for"] == "2026-11-09T12:00:00+08:00"
    assert d7["expires_at"] == "2026-12-15T10:00:00+08:00"  # NOW + 14 days: already due
    assert d30["expires_at"] == "2026-12-16T12:00:00+08:00"  # due + 14 days
    again = json.loads(cli("surveys", "links", "--format", "json")[1])
    assert again == printed
    token = printed[0]["web"].rsplit("=", 1)[1]
    with transaction(sessions) as session:  # the printed link is one the assistant accepts
        survey = links.redeem(session, token, sender_id="telegram:88", channel="telegram",
                              language="zh", now=NOW + timedelta(hours=1))  # fmt: skip
        assert survey.id == ids["d7"]
    left = json.loads(cli("surveys", "links", "--format", "json")[1])
    assert [r["survey_id"] for r in left] == [ids["d30"]]
    code, table, _ = cli("surveys", "links")
    assert code == 0
    [line] = table.splitlines()
    assert line.split("\t") == [
        str(ids["d30"]), "d30", "张伟", PHONE, "2026-12-02T12:00:00+08:00",
        left[0]["telegram"], left[0]["web"],
    ]  # fmt: skip


def test_surveys_links_skips_surveys_sent_in_a_conversation(
    sessions: SessionFactory, config: SurveyConfig, cli: Any
) -> None:
    seed(sessions)
    delivery_id = delivered(sessions, config, sender="telegram:77")
    with transaction(sessions) as session:
        d1 = surveys_of(session, delivery_id)["d1"]
        service.mark_sent(session, d1.id, "ask", DELIVERED + timedelta(days=1))
    printed = json.loads(cli("surveys", "links", "--format", "json")[1])
    assert d1.id not in [row["survey_id"] for row in printed]


def test_surveys_links_without_a_bot_username_has_only_web_links(
    sessions: SessionFactory, config: SurveyConfig, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sessions)
    delivered(sessions, config)
    monkeypatch.delenv("TELEGRAM_BOT_USERNAME")
    code, out, _err = cli("surveys", "links", "--format", "json")
    assert code == 0
    printed = json.loads(out)
    assert len(printed) == 3
    assert {row["telegram"] for row in printed} == {None}
    assert all("/?survey=" in row["web"] for row in printed)
    table = cli("surveys", "links")
    assert "no Telegram links" in table[2]
