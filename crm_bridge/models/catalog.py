"""The dealership: showroom, catalog, promotions and sales consultants (from DEALER_DATA)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Numeric, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_bridge.models.base import BODY_TYPES, POWERTRAINS, Base, one_of
from crm_bridge.types import utcnow

Money = Numeric(12, 2)


class Dealer(Base):
    """The showroom (one row)."""

    __tablename__ = "dealers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text)
    address_en: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64))
    opening_hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)
    test_drive_slot_minutes: Mapped[int] = mapped_column(default=60)
    test_drive_min_notice_minutes: Mapped[int] = mapped_column(default=60)
    test_drive_horizon_days: Mapped[int] = mapped_column(default=30)
    parking: Mapped[str] = mapped_column(Text, default="")
    transport: Mapped[str] = mapped_column(Text, default="")
    prices_illustrative: Mapped[bool] = mapped_column(default=True)
    financing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    trade_in_notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


promotion_models = Table(
    "promotion_models",
    Base.metadata,
    Column("promotion_id", ForeignKey("promotions.id", ondelete="CASCADE"), primary_key=True),
    Column("model_code", ForeignKey("catalog_models.code", ondelete="CASCADE"), primary_key=True),
)


class CatalogModel(Base):
    """A model the dealership sells, with its price range and key specs."""

    __tablename__ = "catalog_models"
    __table_args__ = (
        CheckConstraint(one_of("body_type", BODY_TYPES, nullable=False), name="body_type"),
        CheckConstraint(one_of("powertrain", POWERTRAINS, nullable=False), name="powertrain"),
        CheckConstraint("price_min_cny <= price_max_cny", name="price_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    body_type: Mapped[str] = mapped_column(String(16))
    powertrain: Mapped[str] = mapped_column(String(8))
    seats: Mapped[int]
    price_min_cny: Mapped[Decimal] = mapped_column(Money)
    price_max_cny: Mapped[Decimal] = mapped_column(Money)
    consumption_l_100km: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    range_km: Mapped[int | None]
    demo_cars: Mapped[int] = mapped_column(default=0)
    highlights: Mapped[str] = mapped_column(Text, default="")
    length_mm: Mapped[int | None]
    width_mm: Mapped[int | None]
    height_mm: Mapped[int | None]
    wheelbase_mm: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)

    promotions: Mapped[list[Promotion]] = relationship(
        secondary=promotion_models, back_populates="models"
    )


class Promotion(Base):
    """A current offer; with no models it applies to every model."""

    __tablename__ = "promotions"
    __table_args__ = (CheckConstraint("valid_from <= valid_until", name="valid_dates"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[date]
    valid_until: Mapped[date]

    models: Mapped[list[CatalogModel]] = relationship(
        secondary=promotion_models, back_populates="promotions"
    )


class Consultant(Base):
    """A sales consultant (销售顾问) who receives leads."""

    __tablename__ = "consultants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    working_days: Mapped[list[str]] = mapped_column(JSON)
    opens: Mapped[time]
    closes: Mapped[time]
    active: Mapped[bool] = mapped_column(default=True)
