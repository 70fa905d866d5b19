"""Checking the values of the needs-analysis slots: each check returns a clean value or None.

The NLU normalizes most values already (catalog codes, CNY, days, E.164); these checks are the last
word before anything is written, and they also read answers the NLU left as plain text (a bare name,
a phone number typed with spaces, "40" for a budget of 40万).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Collection
from typing import Any, Final

import phonenumbers

from crm_bridge.models import PAYMENTS

DEFAULT_REGION: Final = "CN"
# A budget given in 万 without the unit ("40") and the range of prices a dealership sees, in CNY.
WAN: Final = 10_000
BUDGET_WAN_RANGE: Final = (3, 3_000)
BUDGET_RANGE: Final = (30_000, 30_000_000)
TIMELINE_MAX_DAYS: Final = 3 * 365
TEXT_MAX: Final = 100

# Fillers of a spoken answer ("um tom zhang", "嗯 我叫刘洋") come off before the name is read.
_FILLERS = re.compile(r"^(?:(?:um+|uh+|er+|erm|hmm+|嗯+|呃+|那个|就是)[\s,，.。]+)+", re.IGNORECASE)
_NAME_PREFIX = re.compile(
    r"^(?:我的名字(?:是|叫)|名字(?:是|叫)|我叫|我是|叫我|我姓|免贵姓|姓|"
    r"my name is|my name's|i am|i'm|im|this is|call me|it's|it is|name:?)\s*",
    re.IGNORECASE,
)
_NAME_SUFFIX = re.compile(r"(?:就行|就好|吧|啊|呀|哈)?[。.!！~～]*$")
_HAN_NAME = re.compile(r"^[\u4e00-\u9fff]{1,6}(?:[·•][\u4e00-\u9fff]{1,8})?$")
_LATIN_NAME = re.compile(r"^[A-Za-z\u00c0-\u024f][A-Za-z\u00c0-\u024f.' -]{0,58}[A-Za-z.]?$")
_YES_PREFIX = re.compile(
    r"^(?:有的?|是的?|对|嗯|有一台|有一辆|有辆|有台|yes|yeah|yep|sure|i do|i have)[,，。.!！\s]*",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^\D{0,6}?(\d+(?:\.\d+)?)\s*(万|w|W|k|K)?\D{0,8}$")
_CORRECTION = re.compile(
    r"不对|不是|错了|搞错|说错|改成|改为|改一下|更正|换成|"
    r"\bactually\b|\bi meant\b|\bcorrection\b|\bchange\b|\binstead\b|\bnot\b",
    re.IGNORECASE,
)


_YES = re.compile(
    r"^(?:有|有的|有啊|有呀|嗯有|是的|是|对|要|需要|yes|yeah|yep|sure|i do|i have one)"
    r"(?:$|[\s,，。.!！~]|一台|一辆|台|辆|的|a\b|an\b)",
    re.IGNORECASE,
)
_NO = re.compile(
    r"^(?:没有|没|无|不用|不需要|不要|no|nope|none|not really|i don't|no car)(?:$|[\s,，。.!！~])",
    re.IGNORECASE,
)


def yes_or_no(text: str) -> bool | None:
    """A plain yes or no at the start of an answer ("有，一台帕萨特" -> True)."""
    text = (text or "").strip()
    if _NO.match(text):
        return False
    if _YES.match(text):
        return True
    return None


_NO_TRADE_IN = re.compile(
    r"没有?旧车|无旧车|不(?:用|需要|打算)?置换|第一台车|首购|"
    r"no trade[- ]?in|nothing to trade|no car to trade|no old car|first car",
    re.IGNORECASE,
)
_TRADE_IN = re.compile(
    r"(?:有|想|要|打算)(?:一?[台辆部])?旧车|旧车(?:想|要)?(?:置换|换掉|卖掉)|置换|"
    r"trade[- ]?in|trade my|have a car to trade|sell my (?:old )?car",
    re.IGNORECASE,
)


def trade_in_mentioned(text: str) -> bool | None:
    """Whether a statement says there is a car to trade in ("没有旧车" -> False)."""
    if _NO_TRADE_IN.search(text or ""):
        return False
    if _TRADE_IN.search(text or ""):
        return True
    return None


def is_correction(text: str) -> bool:
    """Whether the customer is correcting something said before ("不对，…", "I meant …")."""
    return bool(_CORRECTION.search(text or ""))


def printable(text: str) -> bool:
    """Text without control characters or unpaired surrogates (binary pasted into a chat)."""
    return all(unicodedata.category(c) not in ("Cc", "Cs", "Co", "Cn") or c in "\t\n" for c in text)


def clean_models(value: Any, known: Collection[str] | None) -> list[str] | None:
    """Catalog codes in the order named, without repeats; None if any is not in the catalog."""
    values = value if isinstance(value, list) else [value]
    codes: list[str] = []
    for item in values:
        if not isinstance(item, str) or (known is not None and item not in known):
            return None
        if item not in codes:
            codes.append(item)
    return codes or None


def clean_budget(value: Any) -> int | None:
    """The most the customer wants to spend, in CNY."""
    amount = _number(value)
    if amount is None:
        return None
    if BUDGET_WAN_RANGE[0] <= amount <= BUDGET_WAN_RANGE[1]:
        amount *= WAN  # "40" in answer to "what budget?" means 40万
    amount = round(amount)
    return amount if BUDGET_RANGE[0] <= amount <= BUDGET_RANGE[1] else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    match = _NUMBER.match(value.strip().replace(",", ""))
    if not match:
        return None
    amount = float(match.group(1))
    unit = (match.group(2) or "").lower()
    return amount * WAN if unit in ("万", "w") else amount * 1000 if unit == "k" else amount


def clean_timeline(value: Any) -> int | None:
    """Days until the planned purchase."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    days = int(value)
    return days if 0 <= days <= TIMELINE_MAX_DAYS else None


def clean_payment(value: Any) -> str | None:
    return value if isinstance(value, str) and value in PAYMENTS else None


def clean_yes_no(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


# A question or a request, not an answer: "多少钱？", "转人工", "can I talk to a person".
_ASKS = re.compile(
    r"[?？]|吗|么|呢|什么|怎么|多少|哪|能不能|可不可以|人工|客服|销售|顾问|试驾|价格|优惠|删除|退订|"
    r"\b(?:what|how|why|where|when|which|can|could|would|price|human|agent|person|consultant|"
    r"test|drive|delete|stop|help)\b",
    re.IGNORECASE,
)
# Replies that are never a name, whatever else they look like.
_NOT_A_NAME: Final = frozenset(
    (
        "hi",
        "hello",
        "hey",
        "yo",
        "ok",
        "okay",
        "yes",
        "yeah",
        "yep",
        "no",
        "nope",
        "nah",
        "sure",
        "thanks",
        "thx",
        "bye",
        "goodbye",
        "fine",
        "good",
        "great",
        "cool",
        "hmm",
        "um",
        "uh",
        "sorry",
        "你好",
        "您好",
        "哈喽",
        "嗨",
        "好",
        "好的",
        "好吧",
        "嗯",
        "嗯嗯",
        "哦",
        "对",
        "是",
        "是的",
        "不",
        "不是",
        "不用",
        "不要",
        "没有",
        "算了",
        "可以",
        "行",
        "谢谢",
        "再见",
        "拜拜",
        "不想说",
        "保密",
        "不告诉你",
        "thank you",
        "no thanks",
        "not now",
    )
)


_TEST_DRIVE = re.compile(
    r"(?<!不)(?<!不用)(?<!不想)(?:试驾|试乘|试一下车|试开|开一下试试)|test[\s-]*drive|testdrive",
    re.IGNORECASE,
)


_NO_TEST_DRIVE = re.compile(
    r"\b(?:no|not|don'?t|do not|won'?t|without|skip)\b(?:\s+\w+){0,3}?\s+test[\s-]*drive",
    re.IGNORECASE,
)


def asks_for_test_drive(text: str) -> bool:
    """Whether ``text`` asks for a test drive, as a second request or inside a statement."""
    return bool(_TEST_DRIVE.search(text or "")) and not _NO_TEST_DRIVE.search(text or "")


def asks_something(text: str) -> bool:
    """Whether ``text`` asks a question or makes a request rather than answering one."""
    return bool(_ASKS.search(text))


def looks_like_a_name(text: str) -> str | None:
    """The name in a short reply to "your name?" ("Ann", "叫我小王"), or None if the reply is a
    question, a request, a pleasantry or too long to be one."""
    plain = " ".join(text.split()).strip(" ,，。.!！~～")
    if not plain or plain.startswith("/") or _ASKS.search(plain):
        return None
    if plain.lower() in _NOT_A_NAME or len(plain) > 40:
        return None
    name = clean_name(plain)
    if name is None or name.lower() in _NOT_A_NAME:
        return None
    han = sum("\u4e00" <= c <= "\u9fff" for c in name)
    if han > 4 or (not han and len(name.split()) > 3):
        return None
    return name


def clean_name(value: Any) -> str | None:
    """A person's name as given: Chinese or Latin letters only (no digits, markup or code)."""
    if not isinstance(value, str):
        return None
    name = " ".join(value.split())
    name = _NAME_SUFFIX.sub("", _NAME_PREFIX.sub("", _FILLERS.sub("", name))).strip(" ,，")
    if not name or len(name) > 60 or not printable(name):
        return None
    if _HAN_NAME.match(name):
        return name
    if _LATIN_NAME.match(name):
        # A transcript writes everything in lower case; the consultant reads "Tom Zhang".
        return string.capwords(name) if name.islower() else name
    return None


def clean_phone(value: Any, region: str = DEFAULT_REGION) -> str | None:
    """A valid phone number in E.164 (numbers without a country code are read as Chinese)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = value.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        matches = list(phonenumbers.PhoneNumberMatcher(text, region))
        if len(matches) != 1 or not phonenumbers.is_valid_number(matches[0].number):
            return None
        number = matches[0].number
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_trade_in_vehicle(value: Any) -> str | None:
    """The car to trade in, as described ("一台2016年的帕萨特" -> "2016年的帕萨特")."""
    if not isinstance(value, str):
        return None
    text = _YES_PREFIX.sub("", " ".join(value.split())).strip(" ,，。.")
    text = re.sub(r"^(?:一台|一辆|台|辆|a|an)\s*", "", text, flags=re.IGNORECASE)
    if len(text) < 2 or len(text) > TEXT_MAX or not printable(text):
        return None
    if re.search(
        r"[<>{}]|;\s*--|\b(?:select|drop|insert|delete)\b.*\b(?:from|table|into)\b", text, re.I
    ):
        return None
    return text
