"""Free-text survey answers to scores: "非常满意" → 5, "还行" → 3, "8分" → 8, "meh" → 3, "👍" → 5.

A survey question has a scale (``satisfaction`` 1-5 or ``recommend`` 0-10). An explicit number
wins ("给个9分", "4星", "五颗星", "10/10", "满分"), converted when it was given on the other scale
("8分" to a 1-5 question is a 4, "4 stars" to the 0-10 question an 8). Otherwise the first
phrase that says how the customer feels decides, negations included ("不太满意" is low, "不错" and
"not bad" are good). An answer that says neither (a question, "later", noise) maps to None, and
the conversation decides what to do with it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import cn2an
import yaml

SATISFACTION: Final = "satisfaction"
RECOMMEND: Final = "recommend"

# Traditional characters customers type now and then, to their simplified form.
_SIMPLIFIED: Final = str.maketrans(
    "滿還錯們說糟糕極讚對機車務體驗與東麼嗎鬆", "满还错们说糟糕极赞对机车务体验与东么吗松"
)

WORDS: Final = Path(__file__).with_name("answers.yml")


@dataclass(frozen=True)
class _Words:
    feelings: dict[int, tuple[str, ...]]
    likelihood: dict[int, tuple[str, ...]]
    emoji: dict[str, int]


@cache
def _words() -> _Words:
    """The phrase lists (answers.yml), read on first use."""
    data = yaml.safe_load(WORDS.read_text(encoding="utf-8"))
    return _Words(
        feelings={int(k): tuple(v) for k, v in data["feelings"].items()},
        likelihood={int(k): tuple(v) for k, v in data["likelihood"].items()},
        emoji={str(k): int(v) for k, v in data["emoji"].items()},
    )


_NUMBER: Final = r"(\d+(?:\.\d+)?|[零一二两三四五六七八九十]+)"
# A number with what makes it a score: "8分", "4星", "五颗星", "9/10", "8 out of 10", "4 stars".
_STARS: Final = re.compile(_NUMBER + r"\s*(?:颗|个)?\s*(?:星|stars?)")
_OUT_OF: Final = re.compile(_NUMBER + r"\s*(?:/|out of|of|分之)\s*(10|5|十|五)\b")
_POINTS: Final = re.compile(_NUMBER + r"\s*(?:分|points?|pts?)(?!钟)")
_GIVE: Final = re.compile(
    r"(?:打|给|评|rate|give|score)\s*(?:个|了|it|you|a|an)?\s*(\d+(?:\.\d+)?)"
)
# A number alone, with a word or two around it ("4", "4吧", "a 4"); Chinese numerals only when
# they are the whole answer ("八"), since 一 starts 一般, 一点, 一言难尽.
_BARE: Final = re.compile(
    r"^\D{0,6}?(?<![\d.])(\d+(?:\.\d+)?)(?![\d.])\D{0,4}$|^([零一二两三四五六七八九十]+)$"
)
_FULL_MARKS: Final = ("满分", "full marks", "full score", "十分满分")
_NEGATION: Final = re.compile(
    r"(?:\bnot|n't|\bnever|\bnot (?:too|that|so|very|really)|n't (?:say|call it|be)|谈不上|说不上|"
    r"算不上|称不上|没有|没|不是|不算)\s*$"
)
# Whole answers that only say yes or no to "are you satisfied?".
_YES: Final = frozenset({"yes", "yeah", "yep", "yup", "是", "是的", "对", "嗯嗯", "满意的"})
_NO: Final = frozenset({"no", "nope", "nah", "不", "否", "不是"})
# Words that look like a feeling but are not one ("不好说" is "hard to say").
_MASKS: Final = ("不好说", "说不好", "不好意思", "好不好", "好像", "好吗", "好久", "还好吗")


def _plain(text: str) -> str:
    plain = unicodedata.normalize("NFKC", text).lower().translate(_SIMPLIFIED)
    return re.sub(r"\s+", " ", plain).strip()


def _number(token: str) -> float | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", token):
        return float(token)
    try:
        return float(cn2an.cn2an(token, "smart"))
    except (ValueError, KeyError):
        return None


def _on_scale(value: float, given_max: int, scale: str) -> int | None:
    """A score given out of ``given_max`` on the question's scale; None if out of range."""
    if not 0 <= value <= given_max:
        return None
    if scale == RECOMMEND:
        return round(value * 10 / given_max) if given_max != 10 else round(value)
    if given_max == 5:
        return max(1, round(value))
    return max(1, min(5, round(value / 2 + 0.01)))  # 8/10 → 4, 9/10 → 5, 5/10 → 3


_ENGLISH_NUMBERS: Final = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
_ENGLISH_NUMBER: Final = re.compile(r"\b(" + "|".join(_ENGLISH_NUMBERS) + r")\b")
# Numbers that are something else: a time, a date, a price, a distance, a plate.
_NOT_A_SCORE: Final = re.compile(
    r"^\s*(?:点|号|日|月|年|周|天|万|千|公里|km|元|块|岁|个月|小时|分钟|:\d|,\d{3}|s店|s\b)"
)
# Two numerals together are a range ("七八分", "six or seven"): the lower one is taken.
_CN_RANGE: Final = re.compile(r"([一二两三四五六七八九])([二三四五六七八九十])(?=分|星)")
# Points taken off are not the score ("九分，少一分怕你们骄傲").
_DEDUCTION: Final = re.compile(r"(?:扣|少|减|差|minus )\s*(?:[一二两三四五]|\d)\s*(?:分|points?)")
_QUESTION: Final = re.compile(r"[?？吗]|几点|多少|怎么|能不能|可以.{0,6}吗|can i|could you|do you")


def _explicit(plain: str, scale: str) -> int | None:
    """An explicit number: "8分", "4星", "9/10", "打十分", a bare "4"; when several are given,
    the last one ("本来想给10分，现在给8分" is an 8)."""
    if any(word in plain for word in _FULL_MARKS):
        return 10 if scale == RECOMMEND else 5
    plain = _ENGLISH_NUMBER.sub(lambda m: _ENGLISH_NUMBERS[m.group(1)], plain)
    plain = _CN_RANGE.sub(lambda m: m.group(1), plain)
    plain = _DEDUCTION.sub(" ", plain)
    found: list[tuple[int, int]] = []  # (position, score)
    for match in _OUT_OF.finditer(plain):
        value, top = _number(match.group(1)), _number(match.group(2))
        if value is not None and top is not None:
            converted = _on_scale(min(value, top), int(top), scale)
            if converted is not None:
                found.append((match.start(), converted))
    for match in _STARS.finditer(plain):
        value = _number(match.group(1))
        converted = _on_scale(value, 5, scale) if value is not None else None
        if converted is not None:
            found.append((match.start(), converted))
    taken = {position for position, _ in found}
    for match in _POINTS.finditer(plain):
        if match.start() in taken:
            continue
        if match.group(1) == "十" and plain[match.end() : match.end() + 2] in _ADVERB_OF:
            continue  # "十分满意": "very satisfied", not "ten points"
        value = _number(match.group(1))
        if value is not None:
            top = 10 if scale == RECOMMEND or value > 5 else 5
            converted = _on_scale(value, top, scale)
            if converted is not None:
                found.append((match.start(), converted))
    if not found and not _QUESTION.search(plain):
        for match in re.finditer(r"(?<![\d.,/])(\d{1,2}(?:\.\d)?)(?![\d/])", plain):
            if _NOT_A_SCORE.match(plain[match.end() :]):
                continue
            value = float(match.group(1))
            top = 10 if scale == RECOMMEND or value > 5 else 5
            converted = _on_scale(value, top, scale)
            if converted is not None:
                found.append((match.start(), converted))
        bare = _BARE.match(plain)
        if bare and bare.group(2):
            value = _number(bare.group(2))
            if value is not None:
                top = 10 if scale == RECOMMEND or value > 5 else 5
                converted = _on_scale(value, top, scale)
                if converted is not None:
                    found.append((0, converted))
    return max(found)[1] if found else None


_ADVERB_OF: Final = (
    "满意",
    "不满",
    "好",
    "差",
    "失望",
    "感谢",
    "专业",
    "热情",
    "耐心",
    "愿意",
    "推荐",
)


def _first_phrase(plain: str, table: dict[int, tuple[str, ...]]) -> int | None:
    """The score of the phrase found first in the text (the longest one at that place); a
    negated phrase turns ("谈不上满意", "not too bad", "I wouldn't say satisfied")."""
    best: tuple[int, int, int] | None = None  # (position, -length, score)
    for score, phrases in table.items():
        for phrase in phrases:
            start = _find(plain, phrase)
            if start < 0:
                continue
            if len(table) == 5 and _negated(plain[:start], phrase):
                score_here = 2 if score >= 4 else 4 if score <= 2 else score
            else:
                score_here = score
            candidate = (start, -len(phrase), score_here)
            if best is None or candidate < best:
                best = candidate
    return best[2] if best is not None else None


def _find(plain: str, phrase: str) -> int:
    """Where the phrase is, as a word in English ("ok" not in "look"); -1 if absent."""
    if phrase.isascii() and phrase[:1].isalnum():
        match = re.search(r"(?<![a-z])" + re.escape(phrase) + r"(?![a-z])", plain)
        return -1 if match is None else match.start()
    return plain.find(phrase)


def _negated(before: str, phrase: str) -> bool:
    if phrase.startswith(("not ", "不", "没", "非常不", "很不")):
        return False  # the phrase says it itself
    return bool(_NEGATION.search(before))


def _feeling_to_recommend(score: int) -> int:
    return {5: 10, 4: 8, 3: 6, 2: 3, 1: 0}[score]


def score(text: str, scale: str) -> int | None:
    """The score ``text`` gives on ``scale`` (``satisfaction`` 1-5, ``recommend`` 0-10), or None."""
    plain = _plain(text)
    if not plain or len(plain) > 500:
        return None
    explicit = _explicit(plain, scale)
    if explicit is not None:
        return explicit
    bare = plain.strip(" .!。！~～")
    if scale == SATISFACTION and bare in _YES:
        return 4
    if scale == SATISFACTION and bare in _NO:
        return 2
    for mask in _MASKS:
        plain = plain.replace(mask, " ")
    if scale == RECOMMEND:
        likely = _first_phrase(plain, _words().likelihood)
        if likely is not None:
            return likely
    feeling = _first_phrase(plain, _words().feelings)
    if feeling is None:
        feeling = next((value for mark, value in _words().emoji.items() if mark in plain), None)
    if feeling is None:
        return None
    return _feeling_to_recommend(feeling) if scale == RECOMMEND else feeling
