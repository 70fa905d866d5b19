"""What the phone channel says: bot messages turned into speech (pure functions, no Rasa).

The web chat shows markdown, links and buttons; a caller hears none of them. Here a bot message
becomes plain sentences: markup and links are dropped, buttons become keypad options ("按1，…；
按2，…" / "Press 1 for …"), prices and times read as a Chinese speaker says them ("35万元" →
"三十五万元", "10:00" → "十点") and phone numbers digit by digit. This module imports only
``cn2an`` and the standard library, so both environments can import and test it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import cn2an

Language = Literal["zh", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("zh", "en")
# The keypad key that switches between Chinese and English (never used for an option).
LANGUAGE_KEY: Final = "9"
OPTION_KEYS: Final = ("1", "2", "3", "4", "5", "6", "7", "8")
# A survey's score button: its payload carries the score.
_RATING: Final = re.compile(r'/inform\{"rating": ?(\d{1,2})\}')

# Twilio's recognition and speech languages.
LOCALES: Final[Mapping[Language, str]] = {"zh": "zh-CN", "en": "en-US"}

PROMPTS: Final[Mapping[str, Mapping[Language, str]]] = {
    "language_offer": {
        # Offered in the other language: that is the one the caller understands.
        "zh": "For English, press 9.",
        "en": "普通话服务请按9。",
    },
    "reprompt": {
        "zh": "抱歉，我没有听到您的声音，请再说一遍。",
        "en": "Sorry, I didn't hear you. Please say that again.",
    },
    "goodbye": {
        "zh": "好像没有听到您的声音，我们先挂断了。欢迎随时再来电，再见！",
        "en": "I still can't hear you, so I'll hang up now. Please call again any time. Goodbye!",
    },
    "fallback": {"zh": "您好，请问有什么可以帮您？", "en": "Hello, how can I help you?"},
}

_ZH_DIGITS: Final = dict(zip("0123456789", "零幺二三四五六七八九", strict=True))
_EMOJI: Final = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\ufe0f\u200d]+"
)
_HTML_TAG: Final = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_MD_LINK: Final = re.compile(r"!?\[([^\]\n]{0,200})\]\([^)\s]{0,500}\)")
_URL: Final = re.compile(r"https?://\S+|www\.\S+")
_MD_EMPHASIS: Final = re.compile(r"(\*\*|__|\*|`+|~~)")
_MD_LINE_START: Final = re.compile(r"^[ \t]{0,8}(?:#{1,6}[ \t]+|>[ \t]?|[-*+•·][ \t]+)", re.M)
_NUMBERED_LINE: Final = re.compile(r"^[ \t]{0,8}(\d{1,2})[.)][ \t]+", re.M)
_SPACES: Final = re.compile(r"[ \t]+")
_HTML_ENTITIES: Final = {"&nbsp;": " ", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"'}

# "350000元", "35万", "35.98万元", "¥350,000", "RMB 350,000" (Chinese speech only).
_NUMBER: Final = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_PRICE_UNIT: Final = re.compile(rf"(?<![\d.,])({_NUMBER})[ \t]?(万元|万|元|块)")
_PRICE_RANGE: Final = re.compile(
    rf"(?<![\d.,])({_NUMBER})(万)?[ \t]?[-–—~～至到][ \t]?({_NUMBER})[ \t]?(万元|万|元)"
)
_PRICE_SIGN: Final = re.compile(rf"(?:[¥￥]|RMB|CNY)[ \t]?({_NUMBER})(万)?(?![\d,.])", re.I)
# "10:00", "9:30" (Chinese speech only).
_TIME: Final = re.compile(r"(?<![\d:])([01]?\d|2[0-3])[:：]([0-5]\d)(?![\d:])")
# Where in the day an hour falls, as a time is said ("下午三点"), latest start first.
_DAY_PERIODS: Final = ((18, "晚上"), (13, "下午"), (12, "中午"), (6, "上午"), (0, "凌晨"))
# "12月5日（周六）" is said "12月5日周六".
_WEEKDAY_BRACKETS: Final = re.compile(r"[（(](周[一二三四五六日天])[)）]")
_TIME_RANGE: Final = re.compile(
    r"([点分半])[ \t]?[-–—~～][ \t]?(?=[零一二三四五六七八九十上中下晚凌])"
)
# Phone numbers: "+8613812345678", "138 1234 5678", "400-820-8888" (seven digits or more).
_PHONE: Final = re.compile(r"(?<![\d.,])\+?\d(?:[ \-]?\d){6,14}(?![\d.,])")
# "7.8升/百公里" → "7.8升每百公里" (a slash is not read aloud).
_PER: Final = re.compile(r"([\u4e00-\u9fff])/([\u4e00-\u9fff])")
_LATIN_WORD: Final = re.compile(r"[A-Za-z]{2,}")
_HAN: Final = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Option:
    """A button spoken as a keypad option: press ``key`` to send ``payload``."""

    key: str
    title: str
    payload: str


def other_language(language: Language) -> Language:
    return "en" if language == "zh" else "zh"


def as_language(value: Any, default: Language = "zh") -> Language:
    """``value`` if it names one of the two languages ("en", "en-US", "zh-CN"…), else
    ``default``."""
    text = str(value or "").strip().lower()
    if text.startswith("en"):
        return "en"
    if text.startswith("zh") or text.startswith("cmn"):
        return "zh"
    return default


def speech_language(text: str) -> Language | None:
    """The language a speech result is in: English when it is Latin script (no Chinese
    characters, at least one Latin word), Chinese when it has Chinese characters, else unknown.

    "Q5L" or "A6" alone (car names Chinese callers say too) do not count as English.
    """
    if _HAN.search(text):
        return "zh"
    words = [w for w in _LATIN_WORD.findall(text) if not re.fullmatch(r"[A-Za-z]{1,2}\d*", w)]
    return "en" if words else None


def written_language(text: str) -> Language | None:
    """The language a reply is written in, by its letters: English with a Chinese name in it
    ("your consultant 王磊") is English; Chinese naming "Q5L" and "e-tron" is Chinese."""
    han = len(_HAN.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    if not han and not latin:
        return None
    return "zh" if han * 4 >= latin else "en"


def _read_number(number: str) -> str:
    return str(cn2an.an2cn(number.replace(",", "")))


def _read_digits(digits: str, language: Language) -> str:
    if language == "zh":
        if digits.startswith("+86"):  # a Chinese number, read as dialled at home
            national = digits[3:]
            digits = national if national.startswith("1") else "0" + national
        read = "".join(_ZH_DIGITS.get(c, "") for c in digits)
        return ("加" + read) if digits.startswith("+") else read
    spaced = " ".join(c for c in digits if c.isdigit())
    return ("plus " + spaced) if digits.startswith("+") else spaced


def _phone(match: re.Match[str], language: Language) -> str:
    raw = match.group(0)
    digits = ("+" if raw.startswith("+") else "") + re.sub(r"\D", "", raw)
    return _read_digits(digits, language)


def _time(match: re.Match[str]) -> str:
    """ "15:00" → "下午三点", "9:30" → "上午九点半": the twelve-hour clock people say."""
    hour, minute = int(match.group(1)), int(match.group(2))
    period = next(word for start, word in _DAY_PERIODS if hour >= start)
    said_before = match.string[max(0, match.start() - 2) : match.start()]
    if said_before in {word for _, word in _DAY_PERIODS}:  # "上午10:00": said already
        period = ""
    twelve = hour - 12 if hour > 12 and period else hour
    spoken = period + ("两" if twelve == 2 else _read_number(str(twelve))) + "点"
    if minute == 30:
        return spoken + "半"
    if minute:
        return spoken + ("零" if minute < 10 else "") + _read_number(str(minute)) + "分"
    return spoken


def _time_en(match: re.Match[str]) -> str:
    """ "15:00" → "3 PM", "09:30" → "9:30 AM"."""
    hour, minute = int(match.group(1)), int(match.group(2))
    if re.match(r"\s*[AaPp]\.?[Mm]\b", match.string[match.end() :]):
        return match.group(0)  # "10:30 am": said already
    twelve = hour % 12 or 12
    return f"{twelve}{f':{minute:02d}' if minute else ''} {'AM' if hour < 12 else 'PM'}"


def _price_unit(match: re.Match[str]) -> str:
    unit = match.group(2)
    return _read_number(match.group(1)) + ("万元" if unit.startswith("万") else "元")


def _price_range(match: re.Match[str]) -> str:
    low, low_unit, high, unit = match.groups()
    if unit.startswith("万"):
        return f"{_read_number(low)}万到{_read_number(high)}万元"
    return f"{_read_number(low)}{low_unit or ''}到{_read_number(high)}元"


def _price_sign(match: re.Match[str]) -> str:
    return _read_number(match.group(1)) + (match.group(2) or "") + "元"


def speakable(text: str, language: Language) -> str:
    """``text`` as it should be spoken: no markup, links or emoji; numbers read well."""
    for entity, plain in _HTML_ENTITIES.items():
        text = text.replace(entity, plain)
    text = _HTML_TAG.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _MD_LINE_START.sub("", text)
    text = _NUMBERED_LINE.sub(r"\1、" if language == "zh" else r"\1. ", text)
    text = _MD_EMPHASIS.sub("", text)
    text = _EMOJI.sub("", text)
    # Prices before phone numbers: "1200000元" is a price, not a number to dial.
    if language == "zh":
        text = _PRICE_RANGE.sub(_price_range, text)
        text = _PRICE_SIGN.sub(_price_sign, text)
        text = _PRICE_UNIT.sub(_price_unit, text)
        text = _PER.sub(r"\1每\2", text)
        text = _TIME.sub(_time, text)
        text = _WEEKDAY_BRACKETS.sub(r"\1", text)
        text = _TIME_RANGE.sub(r"\1到", text)
    else:
        text = _TIME.sub(_time_en, text)
    text = _PHONE.sub(lambda m: _phone(m, language), text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    joiner = "" if language == "zh" else " "
    return joiner.join(line for line in lines if line).strip()


def numbered_options(buttons: Iterable[Mapping[str, Any]], language: Language) -> list[Option]:
    """Buttons as keypad options 1–8 (9 switches the language); buttons past eight are not
    offered, and a button without a payload is not offered either. Score buttons (a survey's
    ``/inform{"rating": n}``) are keyed by their score: press 5 for 5, key in 10 then # for 10."""
    scores = score_options(buttons, language)
    if scores:
        return scores
    options: list[Option] = []
    for button in buttons:
        title = speakable(str(button.get("title") or ""), language)
        payload = str(button.get("payload") or "")
        if not title or not payload:
            continue
        if len(options) == len(OPTION_KEYS):
            break
        options.append(Option(OPTION_KEYS[len(options)], title, payload))
    return options


def score_options(buttons: Iterable[Mapping[str, Any]], language: Language) -> list[Option]:
    """Score buttons keyed by their score; [] unless every button is one."""
    options: list[Option] = []
    for button in buttons:
        match = _RATING.fullmatch(str(button.get("payload") or ""))
        if match is None:
            return []
        score = match.group(1)
        title = str(button.get("title") or "").strip()
        title = title.removeprefix(score).strip() or score
        options.append(Option(score, speakable(title, language), str(button["payload"])))
    return options


def keyed_in(options: Sequence[Option]) -> bool:
    """Whether an option takes more than one key (a 0–10 score: keyed in, then #)."""
    return any(len(o.key) > 1 for o in options)


def options_sentence(options: Sequence[Option], language: Language) -> str:
    """ "按1，看看车型；按2，预约试驾。" / "Press 1 for Our models. Press 2 for …"."""
    if not options:
        return ""
    if keyed_in(options):
        keys = sorted(int(o.key) for o in options)
        if language == "zh":
            return f"请说出分数，或者在键盘上输入{keys[0]}到{keys[-1]}的分数，再按井号键。"
        return f"Say your score, or key in a number from {keys[0]} to {keys[-1]} and press hash."
    if language == "zh":
        return "；".join(f"按{o.key}，{o.title.rstrip('。')}" for o in options) + "。"
    return " ".join(f"Press {o.key} for {o.title.rstrip('.')}." for o in options)


def spoken_turn(
    messages: Iterable[Mapping[str, Any]], language: Language
) -> tuple[list[str], list[Option]]:
    """The sentences of one bot turn and the keypad options it offers (the last buttons win)."""
    sentences: list[str] = []
    options: list[Option] = []
    for message in messages:
        text = speakable(str(message.get("text") or ""), language)
        buttons = message.get("buttons") or []
        if text:
            sentences.append(text)
        if buttons:
            options = numbered_options(buttons, language)
            offer = options_sentence(options, language)
            if offer:
                sentences.append(offer)
    return sentences, options
