"""The reports' numbers, read from the database into typed rows (nothing is drawn here).

Every figure counts rows whose own time falls in the period (dealer's days, ``Period``):

- funnel, channels and levels: leads *created* in the period (a cohort), and how far each has got
  by the time the report is built. A lead "reached" a stage when its furthest status so far, from
  its status history (lead events of kind ``status``) and its current status, is that stage or a
  later one in ``STAGES``; so the bars never grow down the funnel. ``lost`` counts the cohort's
  leads lost now, whatever stage they had reached.
- hand-offs opened in the period: minutes from opening to the claim, and from opening to the
  consultant's first reply (what the customer waited); median and 90th percentile.
- test drives whose start is in the period: completed / (completed + no-show); those still
  booked or cancelled are not counted.
- survey answers, dated when the answer exists: ``completed_at``, or ``sent_at`` for a survey
  answered in part. Each answered question counts, also in unfinished surveys.
- complaint tickets opened in the period, by cause (none yet: "unclassified") and state.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm_bridge.models import (
    CHANNELS,
    LEVELS,
    TICKET_CAUSES,
    TICKET_STATES,
    Booking,
    Handoff,
    Lead,
    LeadEvent,
    Survey,
    Ticket,
)
from crm_bridge.reports.period import Period, percentile
from crm_bridge.surveys.config import SCALE_RANGE, SurveyConfig

# The funnel, in order; "lost" leaves it at any stage and is counted beside it.
STAGES: Final = ("new", "qualified", "handed_off", "contacted", "test_drive_booked", "won")
RANK: Final = {stage: n for n, stage in enumerate(STAGES)}
UNKNOWN_CHANNEL, UNRATED, UNCLASSIFIED = "unknown", "unrated", "unclassified"


@dataclass(frozen=True)
class FunnelRow:
    stage: str  # one of STAGES, or "lost"
    leads: int
    pct_of_created: float | None


@dataclass(frozen=True)
class ChannelLevelRow:
    channel: str  # CHANNELS or "unknown"
    level: str  # LEVELS or "unrated"
    leads: int


@dataclass(frozen=True)
class HandoffRow:
    bucket: date | None  # None: the whole period
    opened: int
    claimed: int
    replied: int
    claim_median: float | None  # minutes
    claim_p90: float | None
    reply_median: float | None
    reply_p90: float | None


@dataclass(frozen=True)
class HandoffTimes:
    rows: list[HandoffRow]  # one per bucket
    total: HandoffRow
    claim_minutes: list[float]  # every hand-off's, for the distribution
    reply_minutes: list[float]


@dataclass(frozen=True)
class ShowRateRow:
    bucket: date | None
    completed: int
    no_show: int
    rate_pct: float | None


@dataclass(frozen=True)
class SatisfactionRow:
    bucket: date | None
    question: str
    answers: int
    average: float | None  # 1..5


@dataclass(frozen=True)
class NpsRow:
    bucket: date | None
    answers: int
    promoters: int  # 9-10
    passives: int  # 7-8
    detractors: int  # 0-6
    nps: float | None  # % promoters - % detractors, -100..100


@dataclass(frozen=True)
class ComplaintRow:
    cause: str  # TICKET_CAUSES or "unclassified"
    by_state: dict[str, int]  # TICKET_STATES -> count
    total: int


@dataclass(frozen=True)
class ReportData:
    """Everything the reports show for one period."""

    period: Period
    funnel: list[FunnelRow]
    channels: list[ChannelLevelRow]
    handoffs: HandoffTimes
    show_rate: list[ShowRateRow]  # per bucket, then the whole period (bucket None)
    questions: list[str]  # the satisfaction questions, in the survey file's order
    satisfaction: list[SatisfactionRow]  # per bucket and question, then per question overall
    nps: list[NpsRow]  # per bucket, then the whole period
    complaints: list[ComplaintRow]

    @property
    def leads_created(self) -> int:
        return self.funnel[0].leads

    @property
    def show_rate_total(self) -> ShowRateRow:
        return self.show_rate[-1]

    @property
    def nps_total(self) -> NpsRow:
        return self.nps[-1]


def collect(session: Session, period: Period, surveys: SurveyConfig) -> ReportData:
    """Every report's rows for ``period``; reads only."""
    questions = [q for q, spec in surveys.questions.items() if spec.scale == "satisfaction"]
    recommend = [q for q, spec in surveys.questions.items() if spec.scale == "recommend"]
    answers = survey_answers(session, period)
    return ReportData(
        period=period,
        funnel=lead_funnel(session, period),
        channels=leads_by_channel_and_level(session, period),
        handoffs=handoff_times(session, period),
        show_rate=show_rate(session, period),
        questions=questions,
        satisfaction=satisfaction(period, answers, questions),
        nps=nps(period, answers, recommend),
        complaints=complaints(session, period),
    )


def _created_in(period: Period) -> ColumnElement[bool]:
    return and_(Lead.created_at >= period.start, Lead.created_at < period.end)


def lead_funnel(session: Session, period: Period) -> list[FunnelRow]:
    """How many leads of the cohort reached each stage, and how many are lost."""
    cohort = dict(session.execute(select(Lead.id, Lead.status).where(_created_in(period))).all())
    furthest = {lead_id: RANK.get(status, 0) for lead_id, status in cohort.items()}
    history = select(LeadEvent.lead_id, LeadEvent.old_value, LeadEvent.new_value).where(
        LeadEvent.kind == "status",
        LeadEvent.lead_id.in_(select(Lead.id).where(_created_in(period))),
    )
    for lead_id, old, new in session.execute(history):
        for status in (old, new):
            if status in RANK:
                furthest[lead_id] = max(furthest[lead_id], RANK[status])
    created = len(cohort)
    rows = []
    for rank, stage in enumerate(STAGES):
        reached = sum(1 for value in furthest.values() if value >= rank)
        rows.append(FunnelRow(stage, reached, _pct(reached, created)))
    lost = sum(1 for status in cohort.values() if status == "lost")
    rows.append(FunnelRow("lost", lost, _pct(lost, created)))
    return rows


def leads_by_channel_and_level(session: Session, period: Period) -> list[ChannelLevelRow]:
    """Leads created in the period per channel and level; every combination, zeros included."""
    counts = {
        (channel or UNKNOWN_CHANNEL, level or UNRATED): int(n)
        for channel, level, n in session.execute(
            select(Lead.channel, Lead.level, func.count())
            .where(_created_in(period))
            .group_by(Lead.channel, Lead.level)
        )
    }
    channels = [*CHANNELS, *({c for c, _ in counts} - set(CHANNELS))]
    return [
        ChannelLevelRow(channel, level, counts.get((channel, level), 0))
        for channel in channels
        for level in (*LEVELS, UNRATED)
    ]


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max(0.0, (end - start).total_seconds() / 60)


def _handoff_row(bucket: date | None, times: list[tuple[float | None, float | None]]) -> HandoffRow:
    claims = [c for c, _ in times if c is not None]
    replies = [r for _, r in times if r is not None]
    return HandoffRow(
        bucket=bucket,
        opened=len(times),
        claimed=len(claims),
        replied=len(replies),
        claim_median=percentile(claims, 50),
        claim_p90=percentile(claims, 90),
        reply_median=percentile(replies, 50),
        reply_p90=percentile(replies, 90),
    )


def handoff_times(session: Session, period: Period) -> HandoffTimes:
    """Time to claim and to the first reply of the hand-offs opened in the period."""
    per_bucket: dict[date, list[tuple[float | None, float | None]]] = defaultdict(list)
    stmt = select(Handoff.opened_at, Handoff.claimed_at, Handoff.first_reply_at).where(
        Handoff.opened_at >= period.start, Handoff.opened_at < period.end
    )
    for opened, claimed, replied in session.execute(stmt):
        per_bucket[period.bucket_of(opened)].append(
            (_minutes(opened, claimed), _minutes(opened, replied))
        )
    everything = [pair for pairs in per_bucket.values() for pair in pairs]
    return HandoffTimes(
        rows=[_handoff_row(b, per_bucket.get(b, [])) for b in period.buckets()],
        total=_handoff_row(None, everything),
        claim_minutes=[c for c, _ in everything if c is not None],
        reply_minutes=[r for _, r in everything if r is not None],
    )


def show_rate(session: Session, period: Period) -> list[ShowRateRow]:
    """Completed and no-show test drives by the day or week they were booked for."""
    counts: Counter[tuple[date, str]] = Counter()
    stmt = select(Booking.start, Booking.status).where(
        Booking.start >= period.start,
        Booking.start < period.end,
        Booking.status.in_(("completed", "no_show")),
    )
    for start, status in session.execute(stmt):
        counts[(period.bucket_of(start), status)] += 1

    def row(bucket: date | None) -> ShowRateRow:
        done = sum(n for (b, s), n in counts.items() if s == "completed" and bucket in (None, b))
        missed = sum(n for (b, s), n in counts.items() if s == "no_show" and bucket in (None, b))
        return ShowRateRow(bucket, done, missed, _pct(done, done + missed))

    return [*(row(b) for b in period.buckets()), row(None)]


@dataclass(frozen=True)
class Answer:
    """One answered question of a survey, dated when the answer exists."""

    bucket: date
    question: str
    score: int


def survey_answers(session: Session, period: Period) -> list[Answer]:
    """The scored answers given in the period (partial surveys included; comments left out)."""
    answered_in = or_(
        and_(Survey.completed_at >= period.start, Survey.completed_at < period.end),
        and_(
            Survey.completed_at.is_(None),
            Survey.sent_at >= period.start,
            Survey.sent_at < period.end,
        ),
    )
    found = []
    stmt = select(Survey.answers, Survey.completed_at, Survey.sent_at).where(answered_in)
    for answers, completed_at, sent_at in session.execute(stmt):
        at = completed_at or sent_at
        assert at is not None  # by the query
        for question, value in (answers or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                found.append(Answer(period.bucket_of(at), question, value))
    return found


def _in_scale(answer: Answer, scale: str) -> bool:
    low, high = SCALE_RANGE[scale]
    return low <= answer.score <= high


def satisfaction(
    period: Period, answers: list[Answer], questions: list[str]
) -> list[SatisfactionRow]:
    """The average score (1..5) of each satisfaction question per bucket, then overall."""
    scores: dict[tuple[date | None, str], list[int]] = defaultdict(list)
    for answer in answers:
        if answer.question in questions and _in_scale(answer, "satisfaction"):
            scores[(answer.bucket, answer.question)].append(answer.score)
            scores[(None, answer.question)].append(answer.score)
    rows = []
    for bucket in [*period.buckets(), None]:
        for question in questions:
            given = scores.get((bucket, question), [])
            average = round(sum(given) / len(given), 2) if given else None
            rows.append(SatisfactionRow(bucket, question, len(given), average))
    return rows


def nps(period: Period, answers: list[Answer], questions: list[str]) -> list[NpsRow]:
    """Net Promoter Score of the "recommend" answers (0..10) per bucket, then overall."""
    scores = [a for a in answers if a.question in questions and _in_scale(a, "recommend")]

    def row(bucket: date | None) -> NpsRow:
        given = [a.score for a in scores if bucket in (None, a.bucket)]
        promoters = sum(1 for s in given if s >= 9)
        detractors = sum(1 for s in given if s <= 6)
        passives = len(given) - promoters - detractors
        score = round((promoters - detractors) * 100 / len(given), 1) if given else None
        return NpsRow(bucket, len(given), promoters, passives, detractors, score)

    return [*(row(b) for b in period.buckets()), row(None)]


def complaints(session: Session, period: Period) -> list[ComplaintRow]:
    """Tickets opened in the period by cause and state; causes without tickets are left out."""
    counts: Counter[tuple[str, str]] = Counter()
    stmt = (
        select(Ticket.cause, Ticket.state, func.count())
        .where(Ticket.opened_at >= period.start, Ticket.opened_at < period.end)
        .group_by(Ticket.cause, Ticket.state)
    )
    for cause, state, n in session.execute(stmt):
        counts[(cause or UNCLASSIFIED, state)] += int(n)
    causes = [*TICKET_CAUSES, UNCLASSIFIED]
    causes += sorted({c for c, _ in counts} - set(causes))
    rows = []
    for cause in causes:
        by_state = {state: counts.get((cause, state), 0) for state in TICKET_STATES}
        if sum(by_state.values()):
            rows.append(ComplaintRow(cause, by_state, sum(by_state.values())))
    return sorted(rows, key=lambda row: -row.total)


def _pct(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None
