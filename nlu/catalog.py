"""Audi catalog codes and the many ways buyers write them."""

from __future__ import annotations

import re
import unicodedata

CATALOG_CODES = (
    "A3", "A4L", "A6L", "A7L", "A8L", "Q2L", "Q3", "Q4 e-tron", "Q5L", "Q5 e-tron",
    "Q6", "Q7", "Q8", "e-tron GT",
)  # fmt: skip

# Normalised spelling (lower case, no spaces, dashes or brand words) -> catalog code.
# Buyers in China say "Q5" for the Q5L, "A6" for the A6L and so on: the long-wheelbase
# versions are the ones sold here.
_ALIASES = {
    "a3": "A3", "a3l": "A3", "a3sportback": "A3",
    "a4": "A4L", "a4l": "A4L",
    "a6": "A6L", "a6l": "A6L",
    "a7": "A7L", "a7l": "A7L",
    "a8": "A8L", "a8l": "A8L",
    "q2": "Q2L", "q2l": "Q2L",
    "q3": "Q3", "q3sportback": "Q3",
    "q4": "Q4 e-tron", "q4etron": "Q4 e-tron", "q4e": "Q4 e-tron",
    "q5": "Q5L", "q5l": "Q5L", "q5lsportback": "Q5L", "q5sportback": "Q5L",
    "q5etron": "Q5 e-tron", "q5e": "Q5 e-tron",
    "q6": "Q6",
    "q7": "Q7",
    "q8": "Q8",
    "etrongt": "e-tron GT", "rsetrongt": "e-tron GT", "etrongtrs": "e-tron GT",
    "gtetron": "e-tron GT",
}  # fmt: skip

_NOISE = re.compile(
    r"奥迪|audi|全新|新款|新一代|这款|那款|款|的|车型|系列|版|"
    r"quattro|\d{2}tfsi\w*|tfsi\w*|\d{4}|[\s\-_·.。,，'\"]"
)
_CODE = re.compile(r"(e-?tron\s*gt|[aq]\d\s*e-?tron|[aq]\d\s*l?)", re.IGNORECASE)


def normalize_text(text: str) -> str:
    """NFKC (full-width Ｑ５ -> Q5), lower case, trimmed."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def car_model_code(text: str) -> str | None:
    """The catalog code for a model as written ("奥迪Q5" -> "Q5L"), or None if it is not one."""
    plain = normalize_text(text)
    key = _NOISE.sub("", plain)
    if key in _ALIASES:
        return _ALIASES[key]
    match = _CODE.search(plain)
    if match:
        return _ALIASES.get(_NOISE.sub("", match.group(1).lower()))
    return None
