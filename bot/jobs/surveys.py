"""Survey jobs: one per survey and step, ``survey:{delivery_id}:{stage}`` (``survey:b{booking}:td``
after a test drive) and ``…:reminder`` 48 hours after an unanswered one; planned by the sync job
from the ``surveys`` table, kept in the persistent job store.

A survey due while the gateway was down is sent when it is back: the job's misfire grace covers a
short outage, and the sync job plans any survey still unsent at once, however late, until
``crm_bridge.surveys.service.EXPIRES_AFTER`` (7 days) has passed and it is closed as expired.
Nothing goes out in the quiet hours (it waits for their end), nor to a customer who opted out.
Sending goes through the proactive-message claim (bot/jobs/proactive.py): never twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from bot.jobs import proactive
from bot.jobs.runtime import Runtime, current
from crm_bridge.models import Survey
from crm_bridge.surveys import service as surveys

logger = logging.getLogger(__name__)

ACTION = "action_start_survey"


# (job id, run at, survey id, step)
Planned = tuple[str, datetime, int, str]


def planned(
    runtime: Runtime, session: Session, now: datetime
) -> list[tuple[str, datetime, int, str]]:
    """(job id, run at, survey id, step) for every survey to send or remind of."""
    config = runtime.surveys
    if config is None:
        return []
    surveys.expire(session, now)
    return [
        (due.job_id, runtime.allowed_at(due.run_at), due.survey_id, due.step)
        for due in surveys.due(session, config, now)
    ]


def _prepare(
    session: Session, survey_id: int, step: str, now: datetime
) -> proactive.Message | None:
    """The message for this survey and step, with the survey marked sent (or reminded); None
    when it is finished, closed, has no conversation yet, or this step happened already."""
    survey = session.get(Survey, survey_id)
    if survey is None or survey.completed_at or survey.closed_at:
        return None
    if (step == "ask" and survey.sent_at) or (step == "reminder" and survey.reminded_at):
        return None
    if step == "reminder" and survey.sent_at is None:
        return None
    sender = surveys.target(session, survey)
    if sender is None:
        return None  # no conversation: the dealership sends the link (`surveys links`)
    surveys.mark_sent(session, survey_id, step, now)
    return proactive.Message(
        ref=surveys.job_id(survey, step),
        kind=f"survey_{step}",
        sender_id=sender,
        action=ACTION,
        slots={"survey_id": str(survey.id)},
        customer_id=survey.customer_id,
        survey_id=survey.id,
    )


async def send_survey(survey_id: int, step: str = "ask") -> None:
    """Job: ask the survey (or remind of it) in the customer's conversation, once."""
    runtime = current()
    now = runtime.clock()
    allowed = runtime.allowed_at(now)
    if allowed > now:  # quiet hours: the same job, at their end
        job_id = await runtime.db(lambda s: _job_id(s, survey_id, step))
        if job_id is not None:
            runtime.scheduler.add_job(
                send_survey, "date", run_date=allowed, args=[survey_id, step], id=job_id,
                replace_existing=True, coalesce=True, misfire_grace_time=3600,
            )  # fmt: skip
        return
    if await proactive.send(lambda s: _prepare(s, survey_id, step, now)):
        logger.info("survey %s: %s sent", survey_id, step)


def _job_id(session: Session, survey_id: int, step: str) -> str | None:
    survey = session.get(Survey, survey_id)
    return surveys.job_id(survey, step) if survey is not None else None
