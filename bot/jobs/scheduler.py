"""The persistent scheduler: one process (the gateway) per job store, jobs in the dealership DB."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from crm_bridge.settings import Settings

JOBS_TABLE = "apscheduler_jobs"


def build_scheduler(settings: Settings, engine: Engine) -> AsyncIOScheduler:
    """An AsyncIO scheduler whose jobs survive restarts (SQLAlchemy job store)."""
    return AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        job_defaults={"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1},
        timezone=settings.timezone,
    )


def every(
    scheduler: BaseScheduler,
    func: Callable[..., Any],
    job_id: str,
    interval: timedelta,
    grace: timedelta,
) -> None:
    """A recurring job under a fixed id: replaced on every start (never doubled), runs missed
    within ``grace`` folded into one, never two at once."""
    scheduler.add_job(
        func,
        "interval",
        seconds=interval.total_seconds(),
        id=job_id,
        replace_existing=True,
        coalesce=True,
        misfire_grace_time=int(grace.total_seconds()),
        max_instances=1,
    )
