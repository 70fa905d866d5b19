"""Which language a customer writes in, so replies follow it."""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["zh", "en"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CODE = re.compile(r"[<>{};=\\]|--|/\*")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
# Latin tokens that Chinese speakers use as freely as English speakers: model codes, brand words,
# units and acknowledgements. They alone never switch the conversation to English.
_NEUTRAL = {
    "ok",
    "okay",
    "audi",
    "etron",
    "e-tron",
    "gt",
    "rs",
    "suv",
    "ev",
    "phev",
    "mpv",
    "vip",
    "km",
    "kw",
    "quattro",
    "sportback",
    "app",
    "wifi",
    "id",
    "tfsi",
    "tdi",
    "tfsi-e",
    "s-line",
    "sline",
    "cc",
    "vs",
    "pk",
}


def detect_language(text: str) -> Language | None:
    """``zh`` when the text has Chinese characters, ``en`` when it has English words, else None.

    Mixed messages such as "想book一个test drive" are Chinese. Messages with nothing to go on
    (digits, emoji, a model code like "Q5L") return None so the conversation keeps its language.
    """
    if _CJK.search(text):
        return "zh"
    if _CODE.search(text):
        return None  # markup or code pasted into the chat says nothing about the language
    for token in _TOKEN.findall(text):
        lowered = token.lower().strip("'-")
        # Tokens with digits are model codes, prices or phone numbers ("Q5L", "30w", "45TFSI").
        if len(lowered) < 2 or any(c.isdigit() for c in lowered) or lowered in _NEUTRAL:
            continue
        return "en"
    return None
