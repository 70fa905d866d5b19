"""How catalog facts read in each language."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from crm_bridge.models import CatalogModel, Promotion

BODY = {
    "zh": {"suv": "SUV", "sedan": "轿车", "hatchback": "两厢车", "coupe": "轿跑",
           "wagon": "旅行车", "convertible": "敞篷车"},
    "en": {"suv": "SUV", "sedan": "sedan", "hatchback": "hatchback", "coupe": "coupe",
           "wagon": "estate", "convertible": "convertible"},
}  # fmt: skip
POWER = {
    "zh": {"ev": "纯电", "phev": "插电混动", "ice": "燃油"},
    "en": {"ev": "electric", "phev": "plug-in hybrid", "ice": "petrol"},
}
PAYMENT = {
    "zh": {"cash": "全款", "loan": "贷款", "lease": "融资租赁"},
    "en": {"cash": "cash", "loan": "loan", "lease": "lease"},
}


def money(amount: Decimal | int, language: str) -> str:
    if language == "en":
        return f"CNY {int(amount):,}"
    wan = (Decimal(amount) / 10000).quantize(Decimal("0.01")).normalize()
    return f"{wan:f}万元"


def price_range(model: CatalogModel, language: str) -> str:
    low, high = model.price_min_cny, model.price_max_cny
    if language == "en":
        return f"CNY {int(low):,}–{int(high):,}"
    return f"{low / 10000:.2f}–{high / 10000:.2f}万元"


def joined(items: Iterable[str], language: str) -> str:
    return (", " if language == "en" else "、").join(items)


def model_summary(model: CatalogModel, language: str) -> str:
    """ "Q5L (SUV, 5 seats, petrol, CNY 392,800–513,800)" """
    body, power = BODY[language][model.body_type], POWER[language][model.powertrain]
    if language == "en":
        return f"{model.code} ({body}, {model.seats} seats, {power}, {price_range(model, 'en')})"
    return f"{model.code}（{power}{body}，{model.seats}座，{price_range(model, 'zh')}）"


def efficiency(model: CatalogModel, language: str) -> str:
    if model.range_km:
        return (
            f"CLTC range up to {model.range_km} km"
            if language == "en"
            else (f"CLTC续航最高{model.range_km}公里")
        )
    if model.consumption_l_100km:
        return (
            f"about {model.consumption_l_100km} L/100 km"
            if language == "en"
            else (f"综合油耗约{model.consumption_l_100km}升/百公里")
        )
    return ""


def bilingual(text: str, language: str) -> str:
    """The data file writes free text as "中文 / English"; one of them, Chinese if alone."""
    zh, _, en = text.partition(" / ")
    return (en or zh) if language == "en" else zh


def highlight(model: CatalogModel, language: str) -> str:
    return bilingual(model.highlights, language)


def promotion_title(promotion: Promotion, language: str) -> str:
    return promotion.title_en if language == "en" else promotion.title


WEEKDAY_NAMES = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def day(moment: datetime, language: str) -> str:
    """ "11月25日（周三）" / "Wed 25 Nov", in the zone ``moment`` carries."""
    weekday = WEEKDAY_NAMES[language][moment.weekday()]
    if language == "en":
        return f"{weekday} {moment.day} {moment.strftime('%b')}"
    return f"{moment.month}月{moment.day}日（{weekday}）"


def when(moment: datetime, language: str) -> str:
    """ "11月25日（周三）10:00" / "Wed 25 Nov, 10:00"."""
    separator = ", " if language == "en" else " "
    return f"{day(moment, language)}{separator}{moment.strftime('%H:%M')}"
