"""Trims of the catalog models, their equipment, and the cars in stock or on order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_bridge.models.base import Base, one_of
from crm_bridge.models.catalog import CatalogModel, Money

AVAILABILITY = ("standard", "optional")
STOCK_STATUSES = ("in_stock", "arriving", "to_order")


class Trim(Base):
    """A version of a model (配置) with its guide price, in the catalog's order."""

    __tablename__ = "catalog_trims"
    __table_args__ = (
        UniqueConstraint("model_code", "name"),
        CheckConstraint("price_cny > 0", name="price"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_code: Mapped[str] = mapped_column(
        ForeignKey("catalog_models.code", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    price_cny: Mapped[Decimal] = mapped_column(Money)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    model: Mapped[CatalogModel] = relationship()
    equipment: Mapped[list[TrimEquipment]] = relationship(
        back_populates="trim", cascade="all, delete-orphan"
    )
    stock: Mapped[list[StockItem]] = relationship(
        back_populates="trim", cascade="all, delete-orphan", order_by="StockItem.id"
    )

    def availability(self, feature: str) -> str | None:
        """ "standard", "optional", or None when the trim cannot have ``feature``."""
        return next((e.availability for e in self.equipment if e.feature == feature), None)


class TrimEquipment(Base):
    """A feature a trim has as standard or can have as an option."""

    __tablename__ = "trim_equipment"
    __table_args__ = (
        CheckConstraint(one_of("availability", AVAILABILITY, nullable=False), name="availability"),
    )

    trim_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_trims.id", ondelete="CASCADE"), primary_key=True
    )
    feature: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    availability: Mapped[str] = mapped_column(String(10))

    trim: Mapped[Trim] = relationship(back_populates="equipment")


class StockItem(Base):
    """Cars of one trim and colour: so many in stock, arriving on a date, or built to order."""

    __tablename__ = "stock_items"
    __table_args__ = (
        UniqueConstraint("trim_id", "color", "status"),
        CheckConstraint(one_of("status", STOCK_STATUSES, nullable=False), name="status"),
        CheckConstraint(
            "(status = 'in_stock' AND quantity > 0)"
            " OR (status = 'arriving' AND arrives_on IS NOT NULL)"
            " OR (status = 'to_order' AND lead_time_days > 0)",
            name="complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trim_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_trims.id", ondelete="CASCADE"), index=True
    )
    color: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[int | None]
    arrives_on: Mapped[date | None]
    lead_time_days: Mapped[int | None]

    trim: Mapped[Trim] = relationship(back_populates="stock")
