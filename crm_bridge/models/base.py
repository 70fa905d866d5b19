"""Declarative base: naming conventions, UTC timestamps, the closed value sets."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from crm_bridge.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CHANNELS = ("web", "telegram", "phone", "rest")
LANGUAGES = ("zh", "en")
LEAD_STATUSES = ("new", "qualified", "handed_off", "contacted", "test_drive_booked", "won", "lost")
CLOSED_STATUSES = ("won", "lost")
LEVELS = ("H", "A", "B", "C")
PAYMENTS = ("cash", "loan", "lease")
BODY_TYPES = ("suv", "sedan", "hatchback", "coupe", "wagon", "convertible")
POWERTRAINS = ("ev", "phev", "ice")


def one_of(column: str, values: tuple[str, ...], nullable: bool = True) -> str:
    """SQL for a CHECK constraint: ``column`` takes one of ``values``."""
    listed = ", ".join(f"'{v}'" for v in values)
    check = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {check}" if nullable else check


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}
