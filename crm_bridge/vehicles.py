"""Vehicle presentation (车辆展示) from the dealership's data: trims, equipment and stock.

Service functions take a session and never commit. They return plain facts; the wording in
either language is the conversation's business.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm_bridge.catalog import Need, active_models, need_misses, over_budget
from crm_bridge.models import CatalogModel, StockItem, Trim, TrimEquipment

# Equipment worth naming when presenting a model, most distinctive first.
SIGNATURE_FEATURES = (
    "quattro", "air_suspension", "matrix_led", "seat_ventilation", "seat_massage",
    "head_up_display", "premium_audio", "adaptive_cruise", "driver_assist", "panoramic_roof",
    "camera_360", "seat_heating", "virtual_cockpit",
)  # fmt: skip


def _trims(session: Session, *conditions: Any) -> list[Trim]:
    return list(
        session.scalars(
            select(Trim)
            .where(Trim.active.is_(True), *conditions)
            .options(selectinload(Trim.equipment), selectinload(Trim.stock))
            .order_by(Trim.model_code, Trim.position, Trim.price_cny)
        )
    )


def trims_of(session: Session, code: str) -> list[Trim]:
    """The model's trims on sale, cheapest first, with equipment and stock loaded."""
    return _trims(session, Trim.model_code == code)


def trims_by_model(session: Session) -> dict[str, list[Trim]]:
    """Every model's trims on sale, loaded in one go (for answers that look at all models)."""
    found: dict[str, list[Trim]] = {}
    for trim in _trims(session):
        found.setdefault(trim.model_code, []).append(trim)
    return found


def models_with(session: Session, feature: str) -> list[str]:
    """Catalog codes having ``feature`` on at least one trim, in catalog order."""
    codes = set(
        session.scalars(
            select(Trim.model_code)
            .join(TrimEquipment)
            .where(TrimEquipment.feature == feature, Trim.active.is_(True))
        )
    )
    return [m.code for m in active_models(session) if m.code in codes]


def by_signature(features: Iterable[str]) -> list[str]:
    """``features`` with the most distinctive first (SIGNATURE_FEATURES order, others last)."""
    rank = {feature: i for i, feature in enumerate(SIGNATURE_FEATURES)}
    return sorted(features, key=lambda f: rank.get(f, len(rank)))


def standard_on(trim: Trim) -> set[str]:
    return {e.feature for e in trim.equipment if e.availability == "standard"}


def find_trim(trims: Sequence[Trim], text: str) -> Trim | None:
    """The trim a message names ("豪华动感型", "luxury dynamic", "顶配", "base trim"), if any."""
    plain = text.lower()
    named = [t for t in trims if t.name.lower() in plain or t.name_en.lower() in plain]
    if named:
        return max(named, key=lambda t: len(t.name))
    if not trims:
        return None
    if any(word in plain for word in ("顶配", "最高配", "高配", "top trim", "top-spec", "top spec",
                                      "fully loaded", "highest trim")):  # fmt: skip
        return trims[-1]
    if any(word in plain for word in ("低配", "入门", "最低配", "丐版", "base trim", "base model",
                                      "entry", "cheapest trim", "basic")):  # fmt: skip
        return trims[0]
    return None


@dataclass(frozen=True)
class FeatureAnswer:
    """Per trim: "standard", "optional" or None (not available)."""

    code: str
    feature: str
    by_trim: list[tuple[Trim, str | None]]

    @property
    def known(self) -> bool:
        """Whether the data says anything about the model's trims at all."""
        return bool(self.by_trim)

    @classmethod
    def of(cls, code: str, trims: Sequence[Trim], feature: str) -> FeatureAnswer:
        return cls(code, feature, [(t, t.availability(feature)) for t in trims])

    def standard_from(self) -> Trim | None:
        """The cheapest trim from which every dearer trim has the feature as standard."""
        first: Trim | None = None
        for trim, availability in reversed(self.by_trim):
            if availability != "standard":
                break
            first = trim
        return first


@dataclass(frozen=True)
class StockLine:
    trim: Trim
    color: str
    status: str
    quantity: int | None = None
    arrives_on: date | None = None
    lead_time_days: int | None = None


@dataclass(frozen=True)
class StockAnswer:
    """What the dealership has of a model, optionally only one trim or colour."""

    code: str
    in_stock: list[StockLine] = field(default_factory=list)
    arriving: list[StockLine] = field(default_factory=list)
    to_order: list[StockLine] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.in_stock or self.arriving or self.to_order)

    @property
    def shortest_lead_days(self) -> int | None:
        days = [line.lead_time_days for line in self.to_order if line.lead_time_days]
        return min(days) if days else None


def stock_of(
    code: str, trims: Sequence[Trim], color: str | None = None, trim: Trim | None = None
) -> StockAnswer:
    """The stock of the model's ``trims``, only ``trim`` and ``color`` when given."""
    answer = StockAnswer(code)
    for t in trims:
        if trim is not None and t.id != trim.id:
            continue
        for item in t.stock:
            if color is not None and item.color != color:
                continue
            line = _line(t, item)
            {"in_stock": answer.in_stock, "arriving": answer.arriving,
             "to_order": answer.to_order}[item.status].append(line)  # fmt: skip
    answer.arriving.sort(key=lambda line: line.arrives_on or date.max)
    return answer


def _line(trim: Trim, item: StockItem) -> StockLine:
    return StockLine(trim, item.color, item.status, item.quantity, item.arrives_on,
                     item.lead_time_days)  # fmt: skip


def colors_available(trims: Sequence[Trim]) -> list[str]:
    """Colours the model's ``trims`` can be had in (in stock, arriving or to order)."""
    seen: list[str] = []
    for t in trims:
        for item in t.stock:
            if item.color not in seen:
                seen.append(item.color)
    return seen


def highlights(trims: Sequence[Trim], wanted: Sequence[str] = (), limit: int = 3) -> list[str]:
    """Features to name when presenting: the ones the buyer asked for first, then the model's
    most distinctive equipment that its entry trim has as standard."""
    if not trims:
        return []
    chosen = [f for f in wanted if any(t.availability(f) for t in trims)]
    entry = trims[0]
    chosen += [f for f in SIGNATURE_FEATURES if entry.availability(f) == "standard"]
    return list(dict.fromkeys(chosen))[:limit]


@dataclass(frozen=True)
class Comparison:
    """Two catalog models side by side, with what each has as standard that the other lacks."""

    first: CatalogModel
    second: CatalogModel
    only_first: list[str]
    only_second: list[str]


def compare(session: Session, first: str, second: str) -> Comparison | None:
    models = active_models(session, [first, second])
    if len(models) != 2:
        return None

    def standard(code: str) -> set[str]:
        trims = trims_of(session, code)
        return standard_on(trims[0]) if trims else set()

    a, b = standard(first), standard(second)
    return Comparison(models[0], models[1], by_signature(a - b), by_signature(b - a))


def trim_difference(lower: Trim, higher: Trim) -> tuple[Decimal, list[str]]:
    """How much more the dearer trim costs and what it adds as standard."""
    cheap, dear = sorted((lower, higher), key=lambda t: t.price_cny)
    return dear.price_cny - cheap.price_cny, by_signature(standard_on(dear) - standard_on(cheap))


@dataclass(frozen=True)
class Pick:
    model: CatalogModel
    in_stock: bool


def recommend_with_equipment(
    session: Session, need: Need, features: Sequence[str] = (), want_stock: bool = False
) -> tuple[list[Pick], bool]:
    """Models meeting the need whose trims can have every wanted feature, cheapest first, those
    with a fitting car in stock first when the buyer wants one; if none fit, the closest three
    (fewest needs and features missed, then stock, then price above the budget)."""

    every = trims_by_model(session)

    def score(model: CatalogModel) -> tuple[int, bool, Decimal, Decimal, Pick]:
        trims = every.get(model.code, [])
        fitting = [t for t in trims if all(t.availability(f) for f in features)]
        missed = 0 if fitting else sum(not any(t.availability(f) for t in trims) for f in features)
        stocked = any(i.status == "in_stock" for t in (fitting or trims) for i in t.stock)
        return (need_misses(model, need) + missed, want_stock and not stocked,
                over_budget(model, need), model.price_min_cny, Pick(model, stocked))  # fmt: skip

    scored = sorted((score(m) for m in active_models(session)), key=lambda s: s[:4])
    exact = [s[4] for s in scored if s[0] == 0]
    if exact:
        return exact[:5], True
    return [s[4] for s in scored[:3]], False
