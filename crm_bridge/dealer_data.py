"""The dealership data file (DEALER_DATA): dealer, catalog, promotions, financing, consultants.

Parsed and validated with pydantic, so a dealership replacing the demo file gets a clear message
for a wrong field instead of a wrong answer to a customer.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from crm_bridge.types import known_timezone

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CATALOG_CODES = (
    "A3", "A4L", "A6L", "A7L", "A8L", "Q2L", "Q3", "Q4 e-tron", "Q5L", "Q5 e-tron",
    "Q6", "Q7", "Q8", "e-tron GT",
)  # fmt: skip
DEMO_FILE = Path(__file__).resolve().parent / "data" / "demo_dealer.yml"
# Equipment codes (the NLU's feature entity values, nlu/resources/gazetteer.yml) and paint colours.
FEATURES = (
    "seat_heating", "seat_ventilation", "seat_massage", "heated_steering", "cruise_control",
    "adaptive_cruise", "driver_assist", "parking_assist", "camera_360", "quattro",
    "air_suspension", "matrix_led", "panoramic_roof", "head_up_display", "virtual_cockpit",
    "wireless_charging", "carplay", "premium_audio", "power_tailgate", "keyless",
    "ambient_lighting",
)  # fmt: skip
COLORS = ("white", "black", "grey", "silver", "blue", "red", "green", "brown")
Feature = Literal[FEATURES]  # type: ignore[valid-type]
Color = Literal[COLORS]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _e164(value: str) -> str:
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {value!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number: {value!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


E164 = Annotated[str, AfterValidator(_e164)]


class Hours(_Strict):
    opens: time
    closes: time

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if self.opens >= self.closes:
            raise ValueError(f"opening {self.opens} is not before closing {self.closes}")
        return self


def _hours(value: object) -> object:
    if isinstance(value, list | tuple) and len(value) == 2:
        return {"opens": value[0], "closes": value[1]}
    return value


class Dealer(_Strict):
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    address: str
    address_en: str
    phone: E164
    timezone: str = "Asia/Shanghai"
    opening_hours: dict[Weekday, Hours]
    holidays: list[date] = []
    test_drive_slot_minutes: int = Field(default=60, ge=15, le=240)
    test_drive_min_notice_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    test_drive_horizon_days: int = Field(default=30, ge=1, le=365)
    parking: str = ""
    transport: str = ""

    @field_validator("opening_hours", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        if isinstance(value, dict):
            return {day: _hours(hours) for day, hours in value.items()}
        return value

    @field_validator("test_drive_slot_minutes")
    @classmethod
    def _quarter_hours(cls, value: int) -> int:
        # Bookings occupy 15-minute cells (crm_bridge.bookings): a slot is a whole number of them.
        if value % 15:
            raise ValueError(f"test_drive_slot_minutes {value} is not a multiple of 15")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_timezone(value)


class Size(_Strict):
    length: int = Field(gt=2000, lt=7000)
    width: int = Field(gt=1000, lt=3000)
    height: int = Field(gt=1000, lt=3000)
    wheelbase: int = Field(gt=1500, lt=4500)


class Trim(_Strict):
    """A version of a model (配置): guide price and equipment; what is unlisted is unavailable."""

    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    price_cny: Decimal = Field(gt=0)
    standard: list[Feature] = []
    optional: list[Feature] = []

    @model_validator(mode="after")
    def _once(self) -> Trim:
        both = set(self.standard) & set(self.optional)
        if both:
            raise ValueError(f"trim {self.name!r}: {sorted(both)} both standard and optional")
        return self


class StockItem(_Strict):
    """Cars of one trim and colour: in stock, arriving on a date, or built to order."""

    trim: str
    color: Color
    status: Literal["in_stock", "arriving", "to_order"]
    quantity: int | None = Field(default=None, ge=1)
    arrives_on: date | None = None
    lead_time_weeks: int | None = Field(default=None, ge=1, le=52)

    @model_validator(mode="after")
    def _complete(self) -> StockItem:
        needed = {"in_stock": "quantity", "arriving": "arrives_on", "to_order": "lead_time_weeks"}
        if getattr(self, needed[self.status]) is None:
            raise ValueError(
                f"stock {self.trim}/{self.color}: {self.status} needs {needed[self.status]}"
            )
        return self


class CatalogModel(_Strict):
    code: str
    name: str
    body_type: Literal["suv", "sedan", "hatchback", "coupe", "wagon", "convertible"]
    powertrain: Literal["ev", "phev", "ice"]
    seats: int = Field(ge=2, le=9)
    price_min_cny: Decimal = Field(gt=0)
    price_max_cny: Decimal = Field(gt=0)
    consumption_l_100km: Decimal | None = None
    range_km: int | None = Field(default=None, gt=0)
    demo_cars: int = Field(default=0, ge=0)
    highlights: str = ""
    size_mm: Size | None = None
    trims: list[Trim] = []
    stock: list[StockItem] = []

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: str) -> str:
        if value not in CATALOG_CODES:
            raise ValueError(f"{value!r} is not a catalog code ({', '.join(CATALOG_CODES)})")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CatalogModel:
        if self.price_min_cny > self.price_max_cny:
            raise ValueError(f"{self.code}: price_min_cny is above price_max_cny")
        if self.powertrain == "ev" and self.range_km is None:
            raise ValueError(f"{self.code}: an electric model needs range_km")
        names = [t.name for t in self.trims]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.code}: a trim name appears twice")
        if self.trims:
            prices = [t.price_cny for t in self.trims]
            if (min(prices), max(prices)) != (self.price_min_cny, self.price_max_cny):
                raise ValueError(
                    f"{self.code}: the price range is not its trims' lowest and highest"
                )
        unknown = {item.trim for item in self.stock} - set(names)
        if unknown:
            raise ValueError(f"{self.code}: stock names unknown trims {sorted(unknown)}")
        return self


class Promotion(_Strict):
    title: str
    title_en: str
    models: list[str] = []
    valid_from: date
    valid_until: date

    @model_validator(mode="after")
    def _dates(self) -> Promotion:
        if self.valid_from > self.valid_until:
            raise ValueError(f"promotion {self.title!r} ends before it starts")
        return self


class Financing(_Strict):
    min_down_payment_pct: int = Field(ge=0, le=100)
    terms_months: list[int]
    lease_available: bool = False
    notes: str = ""


class TradeIn(_Strict):
    notes: str = ""


class Consultant(_Strict):
    name: str = Field(min_length=1)
    phone: E164
    working_hours: Hours
    working_days: list[Weekday]
    # Their Telegram user id: registers them as staff (lead cards, claims, commands).
    telegram_user_id: int | None = Field(default=None, gt=0)

    @field_validator("working_hours", mode="before")
    @classmethod
    def _pair(cls, value: object) -> object:
        return _hours(value)


class Manager(_Strict):
    """A sales or showroom manager: escalations, complaints and reports reach them on Telegram."""

    name: str = Field(min_length=1)
    telegram_user_id: int = Field(gt=0)


class DealerData(_Strict):
    version: Literal[1]
    prices_illustrative: bool = True
    dealer: Dealer
    catalog: list[CatalogModel] = Field(min_length=1)
    promotions: list[Promotion] = []
    financing: Financing
    trade_in: TradeIn = TradeIn()
    consultants: list[Consultant] = []
    managers: list[Manager] = []

    @model_validator(mode="after")
    def _references(self) -> DealerData:
        codes = [model.code for model in self.catalog]
        if len(codes) != len(set(codes)):
            raise ValueError("a catalog code appears twice")
        ids = [c.telegram_user_id for c in self.consultants if c.telegram_user_id]
        ids += [m.telegram_user_id for m in self.managers]
        if len(ids) != len(set(ids)):
            raise ValueError("a Telegram user id is given to two people")
        for promotion in self.promotions:
            unknown = set(promotion.models) - set(codes)
            if unknown:
                raise ValueError(f"promotion {promotion.title!r} names unknown models {unknown}")
        return self


def load_dealer_data(path: Path | None = None) -> DealerData:
    """The dealership data at ``path`` (default: the demo file), validated."""
    source = path or DEMO_FILE
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    return DealerData.model_validate(raw)
