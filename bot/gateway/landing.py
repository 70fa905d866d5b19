"""The landing page's dealer sections, in Chinese and English, from the dealership data file.

Every text from the data file is escaped (``html.escape``): it is data, not markup. Each text is
rendered in both languages (``data-lang="zh"`` / ``data-lang="en"``); the page shows one of them
after the visitor's choice, or both when scripts are off.
"""

from __future__ import annotations

import html
from datetime import date

import phonenumbers

from crm_bridge.dealer_data import WEEKDAYS, DealerData, Hours, Promotion, Weekday

DAY_NAMES: dict[str, dict[Weekday, str]] = {
    "zh": {"mon": "周一", "tue": "周二", "wed": "周三", "thu": "周四", "fri": "周五",
           "sat": "周六", "sun": "周日"},
    "en": {"mon": "Mon", "tue": "Tue", "wed": "Wed", "thu": "Thu", "fri": "Fri",
           "sat": "Sat", "sun": "Sun"},
}  # fmt: skip
CLOSED = {"zh": "休息", "en": "Closed"}


def both(zh: str, en: str, tag: str = "span") -> str:
    """``zh`` and ``en`` (plain text, escaped here) as the two language variants of one text."""
    return (
        f'<{tag} data-lang="zh" lang="zh-CN">{html.escape(zh)}</{tag}>'
        f'<{tag} data-lang="en" lang="en">{html.escape(en)}</{tag}>'
    )


def split_bilingual(text: str) -> tuple[str, str]:
    """``"中文 / English"`` (as the data file writes free text) as its two halves, else twice."""
    parts = [part.strip() for part in text.split(" / ")]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    return text, text


def _hours_text(hours: Hours | None, language: str) -> str:
    if hours is None:
        return CLOSED[language]
    return f"{hours.opens:%H:%M}–{hours.closes:%H:%M}"


def _day_range(days: list[Weekday], language: str) -> str:
    names = DAY_NAMES[language]
    if len(days) == 1:
        return names[days[0]]
    joiner = "至" if language == "zh" else "–"
    return f"{names[days[0]]}{joiner}{names[days[-1]]}"


def opening_hours(data: DealerData) -> str:
    """Table rows of the weekly hours, consecutive days with the same hours on one row."""
    runs: list[tuple[list[Weekday], Hours | None]] = []
    for day in WEEKDAYS:
        hours = data.dealer.opening_hours.get(day)
        if runs and runs[-1][1] == hours:
            runs[-1][0].append(day)
        else:
            runs.append(([day], hours))
    rows = [
        f'<tr><th scope="row">{both(_day_range(days, "zh"), _day_range(days, "en"))}</th>'
        f"<td>{both(_hours_text(hours, 'zh'), _hours_text(hours, 'en'))}</td></tr>"
        for days, hours in runs
    ]
    return "\n".join(rows)


def holidays(data: DealerData, today: date) -> str:
    """The coming closing days, if any."""
    coming = [day for day in data.dealer.holidays if day >= today][:5]
    if not coming:
        return ""
    days = "、".join(f"{d.month}月{d.day}日" for d in coming)
    days_en = ", ".join(f"{d:%d %b %Y}" for d in coming)
    return f'<p class="note">{both(f"休息日：{days}", f"Closed on {days_en}")}</p>'


def phone(data: DealerData) -> tuple[str, str]:
    """The dealer's number as a ``tel:`` URI and as people write it (both escaped)."""
    number = phonenumbers.parse(data.dealer.phone)
    shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return html.escape(f"tel:{data.dealer.phone}", quote=True), html.escape(shown)


def current_offers(data: DealerData, today: date) -> list[Promotion]:
    """The promotions valid on ``today`` (the dealer's date)."""
    return [p for p in data.promotions if p.valid_from <= today <= p.valid_until]


def offers(data: DealerData, today: date) -> str:
    """List items of the current offers, or a line saying there are none."""
    found = current_offers(data, today)
    if not found:
        return f'<li class="empty">{both("目前暂无优惠活动。", "No offers at the moment.")}</li>'
    items = []
    for promotion in found:
        until = promotion.valid_until
        models = ", ".join(promotion.models)
        meta_zh = f"有效期至{until.year}年{until.month}月{until.day}日"
        meta_en = f"Until {until:%d %b %Y}"
        if models:
            meta_zh += f" · 适用车型：{models}"
            meta_en += f" · Models: {models}"
        items.append(
            f"<li><strong>{both(promotion.title, promotion.title_en)}</strong>"
            f"<small>{both(meta_zh, meta_en)}</small></li>"
        )
    return "\n".join(items)


def extra_lines(data: DealerData) -> str:
    """Parking and public transport, when the data file says."""
    lines = []
    for label_zh, label_en, text in (
        ("停车", "Parking", data.dealer.parking),
        ("交通", "Getting here", data.dealer.transport),
    ):
        if text:
            zh, en = split_bilingual(text)
            lines.append(f'<p class="note">{both(f"{label_zh}：{zh}", f"{label_en}: {en}")}</p>')
    return "\n".join(lines)
