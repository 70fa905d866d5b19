"""The persistent scheduler: one process (the gateway) per job store, jobs in the dealership DB."""

from __future__ import annotations

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
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
