"""Loading the dealership data file into the database, and reading the catalog back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge import staff
from crm_bridge.dealer_data import DealerData
from crm_bridge.models import (
    CatalogModel,
    Consultant,
    Dealer,
    DemoCar,
    Promotion,
    StockItem,
    Trim,
    TrimEquipment,
)


def load_dealer_data_into(session: Session, data: DealerData) -> None:
    """Make the database match ``data``: upsert by natural key, retire what the file dropped.

    Models, demo cars and consultants no longer in the file are deactivated, not deleted: leads
    and bookings keep pointing at them.
    """
    d = data.dealer
    dealer = session.scalars(select(Dealer)).first() or Dealer()
    dealer.name, dealer.name_en = d.name, d.name_en
    dealer.address, dealer.address_en, dealer.phone = d.address, d.address_en, d.phone
    dealer.timezone = d.timezone
    dealer.opening_hours = {
        day: [h.opens.strftime("%H:%M"), h.closes.strftime("%H:%M")]
        for day, h in d.opening_hours.items()
    }
    dealer.holidays = [day.isoformat() for day in d.holidays]
    dealer.test_drive_slot_minutes = d.test_drive_slot_minutes
    dealer.test_drive_min_notice_minutes = d.test_drive_min_notice_minutes
    dealer.test_drive_horizon_days = d.test_drive_horizon_days
    dealer.parking, dealer.transport = d.parking, d.transport
    dealer.prices_illustrative = data.prices_illustrative
    dealer.financing = data.financing.model_dump()
    dealer.trade_in_notes = data.trade_in.notes
    session.add(dealer)

    existing = {m.code: m for m in session.scalars(select(CatalogModel))}
    for item in data.catalog:
        model = existing.pop(item.code, None) or CatalogModel(code=item.code)
        for name, value in item.model_dump(exclude={"code", "size_mm", "trims", "stock"}).items():
            setattr(model, name, value)
        size = item.size_mm
        model.length_mm, model.width_mm = (size.length, size.width) if size else (None, None)
        model.height_mm, model.wheelbase_mm = (
            (size.height, size.wheelbase) if size else (None, None)
        )
        model.active = True
        session.add(model)
    for retired in existing.values():
        retired.active = False
    session.flush()
    _sync_demo_cars(session, {item.code: item.demo_cars for item in data.catalog})
    _sync_trims(session, data)

    by_code = {m.code: m for m in session.scalars(select(CatalogModel))}
    for promotion in session.scalars(select(Promotion)):
        session.delete(promotion)  # promotions are the file's current list, nothing refers to them
    session.flush()
    for p in data.promotions:
        session.add(
            Promotion(
                title=p.title,
                title_en=p.title_en,
                valid_from=p.valid_from,
                valid_until=p.valid_until,
                models=[by_code[code] for code in p.models],
            )
        )

    consultants = {c.phone: c for c in session.scalars(select(Consultant))}
    for c in data.consultants:
        consultant = consultants.pop(c.phone, None) or Consultant(phone=c.phone)
        consultant.name = c.name
        consultant.working_days = list(c.working_days)
        consultant.opens, consultant.closes = c.working_hours.opens, c.working_hours.closes
        consultant.active = True
        session.add(consultant)
    for gone in consultants.values():
        gone.active = False
    session.flush()
    staff.sync(session, staff_entries(data))


def _sync_trims(session: Session, data: DealerData) -> None:
    """Trims upserted by (model, name), their equipment and stock replaced by the file's."""
    existing = {(t.model_code, t.name): t for t in session.scalars(select(Trim))}
    for item in data.catalog:
        for position, spec in enumerate(item.trims):
            trim = existing.pop((item.code, spec.name), None) or Trim(
                model_code=item.code, name=spec.name
            )
            trim.name_en, trim.price_cny = spec.name_en, spec.price_cny
            trim.position, trim.active = position, True
            trim.equipment, trim.stock = [], []
            session.add(trim)
            session.flush()  # the old rows go before new ones with the same keys arrive
            trim.equipment = [
                TrimEquipment(feature=feature, availability=availability)
                for availability, features in (("standard", spec.standard),
                                               ("optional", spec.optional))
                for feature in features
            ]  # fmt: skip
            trim.stock = [
                StockItem(
                    color=s.color,
                    status=s.status,
                    quantity=s.quantity,
                    arrives_on=s.arrives_on,
                    lead_time_days=s.lead_time_weeks * 7 if s.lead_time_weeks else None,
                )
                for s in item.stock
                if s.trim == spec.name
            ]
    for retired in existing.values():
        retired.active = False
        retired.stock = []
    session.flush()


def _sync_demo_cars(session: Session, wanted: dict[str, int]) -> None:
    """Each model gets exactly ``wanted[code]`` active demo cars (none if absent).

    The oldest cars stay active, extras are deactivated, missing ones are added ("Q5L #3").
    """
    fleets: dict[str, list[DemoCar]] = {}
    for car in session.scalars(select(DemoCar).order_by(DemoCar.id)):
        fleets.setdefault(car.model_code, []).append(car)
    for code in sorted(set(fleets) | set(wanted)):
        fleet = fleets.get(code, [])
        count = wanted.get(code, 0)
        for position, car in enumerate(fleet):
            car.active = position < count
        labels = {car.label for car in fleet}
        number = len(fleet)
        for _ in range(count - len(fleet)):
            number += 1
            while f"{code} #{number}" in labels:
                number += 1
            session.add(DemoCar(model_code=code, label=f"{code} #{number}", active=True))
    session.flush()


def staff_entries(data: DealerData) -> list[staff.StaffEntry]:
    """The consultants and managers of the dealership data who have a Telegram user id."""
    entries = [
        staff.StaffEntry(c.telegram_user_id, c.name, "consultant")
        for c in data.consultants
        if c.telegram_user_id
    ]
    return entries + [
        staff.StaffEntry(m.telegram_user_id, m.name, "manager") for m in data.managers
    ]


def dealer(session: Session) -> Dealer | None:
    return session.scalars(select(Dealer)).first()


def active_models(session: Session, codes: list[str] | None = None) -> list[CatalogModel]:
    """Models on sale, in catalog order; only ``codes`` (in that order) when given."""
    models = list(
        session.scalars(
            select(CatalogModel).where(CatalogModel.active.is_(True)).order_by(CatalogModel.id)
        )
    )
    if codes is None:
        return models
    by_code = {m.code: m for m in models}
    return [by_code[code] for code in codes if code in by_code]


@dataclass(frozen=True)
class Need:
    """What a buyer asked for: "7 seats under 80万", "an electric SUV"."""

    seats: int | None = None
    budget_cny_max: int | None = None
    body_type: str | None = None
    powertrain: str | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.seats, self.budget_cny_max, self.body_type,
                                           self.powertrain))  # fmt: skip


def need_misses(model: CatalogModel, need: Need) -> int:
    """How many of the stated needs ``model`` does not meet."""
    return sum(
        (
            need.seats is not None and model.seats < need.seats,
            need.budget_cny_max is not None and model.price_min_cny > need.budget_cny_max,
            need.body_type is not None and model.body_type != need.body_type,
            need.powertrain is not None and model.powertrain != need.powertrain,
        )
    )


def over_budget(model: CatalogModel, need: Need) -> Decimal:
    """How far the model's entry price is above the budget (0 within it or without one)."""
    if not need.budget_cny_max:
        return Decimal(0)
    return max(Decimal(0), model.price_min_cny - need.budget_cny_max)


def recommend(session: Session, need: Need) -> tuple[list[CatalogModel], bool]:
    """Models meeting every stated need, cheapest first; if none do, the closest three.

    Returns (models, exact). Closeness counts the needs a model misses, then how far its
    entry price is above the budget.
    """
    models = active_models(session)
    exact = sorted((m for m in models if need_misses(m, need) == 0), key=lambda m: m.price_min_cny)
    if exact:
        return exact, True
    closest = sorted(models, key=lambda m: (need_misses(m, need), over_budget(m, need)))
    return closest[:3], False


def current_promotions(
    session: Session, today: date, codes: list[str] | None = None
) -> list[Promotion]:
    """Offers valid today; for ``codes``, those for these models and those for every model."""
    promotions = session.scalars(
        select(Promotion)
        .where(Promotion.valid_from <= today, Promotion.valid_until >= today)
        .order_by(Promotion.id)
    ).all()
    if not codes:
        return list(promotions)
    return [p for p in promotions if not p.models or any(m.code in codes for m in p.models)]
