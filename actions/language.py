"""Which language a customer writes in, so replies follow it."""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["zh", "en"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z0-9]*|[A-Za-z]")
# Latin tokens that Chinese speakers use as freely as English speakers: model codes, brand words,
# units and acknowledgements. They alone never switch the conversation to English.
_NEUTRAL = {
    "ok", "okay", "audi", "etron", "e-tron", "gt", "rs", "suv", "ev", "phev", "mpv", "vip",
    "w", "k", "km", "kw", "l", "s", "q", "a", "quattro", "sportback", "app", "wifi", "id",
}
_MODEL_CODE = re.compile(r"^[a-z]{0,3}\d+[a-z]{0,3}$")


def detect_language(text: str) -> Language | None:
    """``zh`` when the text has Chinese characters, ``en`` when it has English words, else None.

    Mixed messages such as "想book一个test drive" are Chinese. Messages with nothing to go on
    (digits, emoji, a model code like "Q5L") return None so the conversation keeps its language.
    """
    if _CJK.search(text):
        return "zh"
    for word in _WORD.findall(text):
        lowered = word.lower()
        if lowered in _NEUTRAL or _MODEL_CODE.match(lowered):
            continue
        return "en"
    return None
