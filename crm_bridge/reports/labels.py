"""Names shown in the charts and the CSV tables: Chinese first, then English, as the managers
read them. Unknown values (a question added to the survey file) fall back to their id."""

from __future__ import annotations

from typing import Final

STAGES: Final = {
    "new": ("新线索", "New"),
    "qualified": ("已评级", "Qualified"),
    "handed_off": ("已转人工", "Handed off"),
    "contacted": ("已联系", "Contacted"),
    "test_drive_booked": ("已约试驾", "Test drive booked"),
    "won": ("成交", "Won"),
    "lost": ("战败", "Lost"),
}
CHANNELS: Final = {
    "web": ("网页", "Web"),
    "telegram": ("Telegram", "Telegram"),
    "phone": ("电话", "Phone"),
    "rest": ("接口", "REST"),
    "unknown": ("未知", "Unknown"),
}
LEVELS: Final = {
    "H": ("H级", "H"),
    "A": ("A级", "A"),
    "B": ("B级", "B"),
    "C": ("C级", "C"),
    "unrated": ("未评级", "Unrated"),
}
QUESTIONS: Final = {
    "consultant": ("销售顾问", "Consultant"),
    "delivery": ("交车", "Delivery"),
    "car": ("车辆", "Car"),
    "test_drive": ("试驾", "Test drive"),
    "recommend": ("推荐意愿", "Recommend"),
}
CAUSES: Final = {
    "consultant": ("销售顾问", "Consultant"),
    "delivery": ("交车", "Delivery"),
    "car": ("车辆", "Car"),
    "service": ("服务", "Service"),
    "price": ("价格", "Price"),
    "waiting": ("等待", "Waiting"),
    "other": ("其他", "Other"),
    "unclassified": ("未分类", "Unclassified"),
}
TICKET_STATES: Final = {
    "open": ("待处理", "Open"),
    "in_progress": ("处理中", "In progress"),
    "resolved": ("已解决", "Resolved"),
}


def zh(names: dict[str, tuple[str, str]], key: str) -> str:
    return names.get(key, (key, key))[0]


def both(names: dict[str, tuple[str, str]], key: str) -> str:
    """``已约试驾 Test drive booked``; the id itself when unknown."""
    chinese, english = names.get(key, (key, key))
    return chinese if chinese == english else f"{chinese} {english}"
