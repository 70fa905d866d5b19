"""Loading the dealership data file into the database, and reading the catalog back."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.dealer_data import DealerData
from crm_bridge.models import CatalogModel, Consultant, Dealer, Promotion


def load_dealer_data_into(session: Session, data: DealerData) -> None:
    """Make the database match ``data``: upsert by natural key, retire what the file dropped.

    Models and consultants no longer in the file are deactivated, not deleted: leads and
    bookings keep pointing at them.
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
    dealer.parking, dealer.transport = d.parking, d.transport
    dealer.prices_illustrative = data.prices_illustrative
    session.add(dealer)

    existing = {m.code: m for m in session.scalars(select(CatalogModel))}
    for item in data.catalog:
        model = existing.pop(item.code, None) or CatalogModel(code=item.code)
        for name, value in item.model_dump(exclude={"code"}).items():
            setattr(model, name, value)
        model.active = True
        session.add(model)
    for retired in existing.values():
        retired.active = False
    session.flush()

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
