"""Normalized entity values: what a buyer wrote -> the value the contract defines.

Pure functions without Rasa, so they are easy to test. Chinese numerals go through cn2an, English
number words through text2num, phone numbers through phonenumbers and time expressions through
JioNLP (Chinese) and parsedatetime (English).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

import cn2an
import phonenumbers
from text_to_num import alpha2digit

from nlu.catalog import car_model_code, normalize_text

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_CN_NUMBER = re.compile(rf"[{_CN_DIGITS}]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CN_APPROX = re.compile(r"^[一二两三四五六七八九]{2}[十百千]万?$")


def _english_digits(text: str) -> str:
    """English number words to digits ("seven seater" -> "7 seater"); other text unchanged."""
    try:
        converted: str = alpha2digit(text, "en", threshold=0)
    except Exception:  # text2num refuses some odd inputs; they simply carry no number words
        return text
    return converted


def _cn_number(token: str) -> float | None:
    try:
        return float(cn2an.cn2an(token, "smart"))
    except (ValueError, KeyError):
        return None


def numbers(text: str) -> list[tuple[float, int, int]]:
    """Every number in ``text`` (digits or Chinese numerals) with its span."""
    found = [(float(m.group()), m.start(), m.end()) for m in _NUMBER.finditer(text)]
    for match in _CN_NUMBER.finditer(text):
        token = match.group()
        if token in ("万", "亿", "千", "百"):
            continue  # a bare unit, not a number
        # "两三" (two or three), "三四十万" (thirty or forty 万): the upper bound.
        if len(token) == 2 and all(c in "一二两三四五六七八九" for c in token):
            value = _cn_number(token[1])
        elif _CN_APPROX.match(token):
            value = _cn_number(token[1:].rstrip("万亿"))
            if value is not None and token[-1] == "万":
                value *= 10_000
        else:
            value = _cn_number(token.rstrip("万亿")) if token[-1] in "万亿" else _cn_number(token)
            if value is not None and token[-1] == "万" and len(token) > 1:
                value *= 10_000
            elif value is not None and token[-1] == "亿" and len(token) > 1:
                value *= 100_000_000
        if value is not None:
            found.append((value, match.start(), match.end()))
    return sorted(found, key=lambda item: item[1])


# --- money --------------------------------------------------------------------------------------

# Matched right after a number (``_UNIT.match(text, end)``), each run of spaces read one way only.
_UNIT = re.compile(r"\s*(?:(?:来|多|几|左右)\s*)?(百万|万|w|千|k|m|个)")
_MULTIPLIER = {"百万": 1e6, "m": 1e6, "万": 1e4, "w": 1e4, "个": 1e4, "千": 1e3, "k": 1e3}


# English amount words as the units below, before the number words are read ("nine hundred
# thousand" -> "nine hundred k" -> "900 k"; "800 grand", "1.2 million", "half a million").
_EN_AMOUNT_UNITS = (
    (re.compile(r"\bhalf (?:a )?million\b", re.IGNORECASE), "500k"),
    (re.compile(r"\ba million\b", re.IGNORECASE), "1m"),
    (re.compile(r"\b(?:thousand|grand)\b", re.IGNORECASE), "k"),
    (re.compile(r"\b(?:million|mil)\b", re.IGNORECASE), "m"),
)


def budget_cny(text: str) -> int | None:
    """Budget in CNY; a range or an "at most" gives the upper bound ("30到40万" -> 400000)."""
    plain = normalize_text(text)
    for pattern, word in _EN_AMOUNT_UNITS:
        plain = pattern.sub(word, plain)
    plain = _english_digits(plain).replace(",", "").replace("，", "")
    plain = re.sub(r"(?<=\d)\s+(?=\d)", "", plain)
    found = numbers(plain)
    if not found:
        return None
    amounts: list[tuple[float, float | None]] = []
    for value, _, end in found:
        unit = _UNIT.match(plain, end)
        amounts.append((value, _MULTIPLIER[unit.group(1)] if unit else None))
    # "30到40万": a unit written once applies to every number of the range.
    last_unit = next((m for _, m in reversed(amounts) if m is not None), None)
    values = []
    for value, multiplier in amounts:
        if multiplier is None:
            multiplier = last_unit
        if multiplier is None:
            # A bare number: buyers give budgets in 万 ("预算30"); large ones are yuan.
            multiplier = 1e4 if value < 1000 else 1.0
        values.append(value * multiplier)
    return round(max(values))


# --- phone --------------------------------------------------------------------------------------


def phone_e164(text: str, region: str = "CN") -> str | None:
    """E.164 for a valid number ("138 0013 8000" -> "+8613800138000"), else None."""
    plain = normalize_text(text)
    if not any(c.isdigit() for c in plain):
        spoken = spoken_phones(plain)
        return spoken[0][2] if len(spoken) == 1 else None
    digits = re.sub(r"[^\d+]", "", plain)
    if digits.startswith("86") and len(digits) == 13:
        digits = "+" + digits  # "8613800138000": the country code without the plus
    try:
        number = phonenumbers.parse(digits or plain, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A number read out digit by digit, as on the phone: "一八六 一二三四 五六七八", "幺三八…",
# "one five nine one two three …" (zero also as "oh"/"洞", one also as "幺").
_SPOKEN_DIGIT = {
    "零": "0", "〇": "0", "洞": "0", "幺": "1", "一": "1", "二": "2", "两": "2", "三": "3",
    "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_EN_DIGIT = r"(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine|\d)"
_SPOKEN_RUNS = (
    re.compile(
        r"[零〇洞幺一二两三四五六七八九\d](?:[\s,，、.\-]*[零〇洞幺一二两三四五六七八九\d]){6,}"
    ),
    re.compile(rf"\b{_EN_DIGIT}(?:[\s,.\-]+{_EN_DIGIT}){{6,}}\b", re.IGNORECASE),
)


def written_phones(text: str, region: str = "CN") -> list[tuple[int, int, str]]:
    """Phone numbers written in digits anywhere in the text ("我电话136 1111 2222，…"), as
    (start, end, E.164); valid numbers only (phonenumbers' matcher)."""
    return [
        (match.start, match.end, phonenumbers.format_number(
            match.number, phonenumbers.PhoneNumberFormat.E164))
        for match in phonenumbers.PhoneNumberMatcher(text, region.upper())
    ]  # fmt: skip


def spoken_phones(text: str) -> list[tuple[int, int, str]]:
    """Phone numbers read out digit by digit, as (start, end, E.164); valid numbers only."""
    found = []
    for pattern in _SPOKEN_RUNS:
        for match in pattern.finditer(text):
            span = match.group()
            if sum(c.isdigit() for c in span) == len(re.sub(r"[\s,，、.\-]", "", span)):
                continue  # plain digits: the extractor and phone_e164 read those already
            words = re.findall(r"[零〇洞幺一二两三四五六七八九]|[a-z]+|\d", span.lower())
            digits = "".join(_SPOKEN_DIGIT.get(w, w) for w in words)
            e164 = phone_e164(digits) if digits.isdigit() else None
            if e164 is not None:
                found.append((match.start(), match.end(), e164))
    return found


# --- small closed sets --------------------------------------------------------------------------

_PAYMENT = (
    ("lease", ("融资租赁", "以租代购", "租赁", "租车", "lease", "leasing")),
    ("loan", ("贷款", "分期", "按揭", "车贷", "月供", "金融", "loan", "financ", "installment",
              "instalment", "credit", "monthly")),
    ("cash", ("全款", "一次性", "现金", "付清", "全额", "cash", "in full", "outright",
              "full payment", "upfront")),
)  # fmt: skip
_BODY = (
    ("suv", ("suv", "越野", "城市越野")),
    ("wagon", ("旅行", "wagon", "estate", "avant")),
    ("coupe", ("轿跑", "跑车", "coupe", "coupé", "sportback", "sports car")),
    ("convertible", ("敞篷", "convertible", "cabrio")),
    ("hatchback", ("两厢", "掀背", "hatch")),
    ("sedan", ("轿车", "三厢", "sedan", "saloon")),
)
_POWER = (
    ("phev", ("插混", "插电", "混动", "油电", "phev", "hybrid")),
    ("ev", ("纯电", "电动", "电车", "新能源", "ev", "electric", "e-tron", "etron", "bev")),
    ("ice", ("燃油", "油车", "汽油", "柴油", "ice", "petrol", "gasoline", "gas", "diesel", "fuel")),
)


def _keyword(table: tuple[tuple[str, tuple[str, ...]], ...], text: str) -> str | None:
    plain = normalize_text(text)
    for code, words in table:
        for word in words:
            if word.isascii() and word.isalpha() and len(word) <= 4:
                if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", plain):
                    return code
            elif word in plain:
                return code
    return None


def payment(text: str) -> str | None:
    return _keyword(_PAYMENT, text)


def body_type(text: str) -> str | None:
    return _keyword(_BODY, text)


def powertrain(text: str) -> str | None:
    return _keyword(_POWER, text)


def _first_int(text: str) -> int | None:
    found = numbers(_english_digits(normalize_text(text).replace("-", " ")))
    return int(found[0][0]) if found else None


def seats(text: str) -> int | None:
    value = _first_int(text)
    return value if value is not None and 1 < value <= 9 else None


def rating(text: str) -> int | None:
    plain = normalize_text(text)
    if "满分" in plain or "full marks" in plain:
        return 10
    value = _first_int(plain)
    return value if value is not None and 0 <= value <= 10 else None


# --- purchase timeline --------------------------------------------------------------------------

# Matched right after a number (``pattern.match(text, end)``). Each run of spaces can be read one
# way only ("\s*(?:个\s*)?", never "\s*个?\s*"): linear time, whatever the message.
_DAYS_PER = (
    (re.compile(r"\s*(?:个\s*)?(?:多\s*)?(天|日|days?)"), 1),
    (re.compile(r"\s*(?:个\s*)?(?:多\s*)?(周|星期|礼拜|weeks?)"), 7),
    (re.compile(r"\s*(?:个\s*)?(?:多\s*)?(月|months?)"), 30),
    (re.compile(r"\s*(?:个\s*)?(?:多\s*)?(年|years?)"), 365),
)
_TIMELINE_WORDS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("半个月", "half a month", "half month"), 15),
    (("半年", "half a year", "half year"), 180),
    (("一年半",), 540),
    (("马上", "立刻", "立即", "尽快", "越快越好", "这几天", "最近几天", "这两天", "这周", "本周",
      "asap", "right away", "immediately", "this week", "as soon as", "right now"), 7),
    (("下周", "下个星期", "下礼拜", "next week"), 14),
    (("这个月", "本月", "月底", "this month", "end of the month", "end of month"), 30),
    (("下个月", "下月", "next month"), 30),
    (("几个星期", "几周", "a few weeks", "couple of weeks", "couple weeks"), 21),
    (("一两个月", "couple of months", "couple months"), 60),
    (("几个月", "a few months", "few months"), 90),
    (("今年", "this year"), 365),
    (("明年", "next year"), 365),
)  # fmt: skip


_ONE_UNIT = re.compile(r"\b(?:a|an|one)\s+(?=(?:day|week|month|year)s?\b)")


def purchase_timeline_days(text: str) -> int | None:
    """Days until the planned purchase ("两周之内" -> 14, "下个月" -> 30, "半年后" -> 180)."""
    plain = _english_digits(normalize_text(text))
    for words, days in _TIMELINE_WORDS[:3]:  # fractions first: "半年" must not read as "年"
        if any(word in plain for word in words):
            return days
    plain = _ONE_UNIT.sub("1 ", plain)  # "within a month" -> "within 1 month"
    for value, _, end in numbers(plain):
        for pattern, unit in _DAYS_PER:
            if pattern.match(plain, end):
                return round(value * unit)
    for later_words, later_days in _TIMELINE_WORDS[3:]:
        if any(word in plain for word in later_words):
            return later_days
    return None


# --- time ---------------------------------------------------------------------------------------

_PART_OF_DAY = (
    (("早上", "早晨", "清早", "一早", "明早", "今早", "morning"), 9),
    (("上午",), 10),
    (("下午", "afternoon"), 14),  # before noon: "afternoon" contains "noon"
    (("中午", "noon", "lunchtime", "lunch time"), 12),
    (("傍晚", "黄昏"), 17),
    (("晚上", "今晚", "明晚", "夜里", "evening", "tonight"), 19),
)
_EXPLICIT_HOUR = re.compile(
    # a run of numerals is tried from its first one only (linear time on "十十十…")
    r"\d{1,2}\s*[:：点时]|(?<![一二两三四五六七八九十])[一二两三四五六七八九十]+\s*[点时]"
    r"|\d\s*(?:am|pm|a\.m|p\.m|o'?clock|h\b)"
    r"|\bat\s+\d|\bnoon\b|\bmidday\b"
)
_WEEKDAY_WORD = re.compile(
    r"周[一二三四五六日天]|星期[一二三四五六日天]|礼拜[一二三四五六日天]|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)
_PAST_MARKER = re.compile(r"上周|上个?星期|上礼拜|last|昨|前天|yesterday|ago")


def _part_of_day_hour(plain: str) -> int | None:
    for words, hour in _PART_OF_DAY:
        if any(word in plain for word in words):
            return hour
    return None


_SHORTHAND = (
    ("明早", "明天早上"), ("明晚", "明天晚上"), ("今早", "今天早上"), ("后早", "后天早上"),
    ("明儿个", "明天"), ("明儿", "明天"), ("今儿个", "今天"), ("今儿", "今天"), ("后儿", "后天"),
)  # fmt: skip
# Chat spellings and typos of day words, and hours in words ("sat at five pm", "tmrw 10am").
_EN_DAY_WORDS = (
    (re.compile(r"\b(?:tmrw?|tmw|tmrow|tmorrow|tomoz|2morrow|2moro|tomorow|tommorow|tommorrow|"
                r"tomorrw|tomrrow|tomorro)\b", re.IGNORECASE), "tomorrow"),
    (re.compile(r"\b(?:tdy|tody|todya)\b", re.IGNORECASE), "today"),
    (re.compile(r"\btues\b", re.IGNORECASE), "tuesday"),
    (re.compile(r"\bweds\b", re.IGNORECASE), "wednesday"),
    (re.compile(r"\bthurs?\b", re.IGNORECASE), "thursday"),
)  # fmt: skip


def _english_time_words(plain: str) -> str:
    """Day words spelled as in chat and hours said in words, as parsedatetime reads them."""
    for pattern, word in _EN_DAY_WORDS:
        plain = pattern.sub(word, plain)
    plain = _english_digits(plain)
    plain = re.sub(r"\bhalf past (\d{1,2})\b", r"\1:30", plain)
    plain = re.sub(r"\bquarter past (\d{1,2})\b", r"\1:15", plain)
    return re.sub(r"\b(\d{1,2}) ([0-5]\d)\s*(am|pm|a\.m|p\.m)", r"\1:\2 \3", plain)


_MORNING = re.compile(r"早上|早晨|上午|凌晨|清早|一早|\d\s*am\b|\bam\b|a\.m")
_AFTERNOON = re.compile(r"下午|晚上|傍晚|今晚|明晚|\d\s*pm\b|\bpm\b|p\.m|evening|tonight|afternoon")
_RELATIVE_CLOCK = re.compile(r"分钟|小时|钟头|\bmins?\b|minutes?|hours?|\bhrs?\b")


def _parse_chinese_time(plain: str, now: datetime) -> tuple[datetime, str] | None:
    import jionlp

    for short, long in _SHORTHAND:
        plain = plain.replace(short, long)
    base = {f: getattr(now, f) for f in ("year", "month", "day", "hour", "minute", "second")}
    try:
        result: dict[str, Any] = jionlp.parse_time(plain, time_base=base)
    except Exception:  # JioNLP raises ValueError (and others) for times that do not exist
        return None
    if result.get("type") not in ("time_point", "time_span"):
        return None
    start = datetime.strptime(result["time"][0], "%Y-%m-%d %H:%M:%S")
    end = datetime.strptime(result["time"][1], "%Y-%m-%d %H:%M:%S")
    whole_day = start.time() == time(0, 0) and end.time() == time(23, 59, 59)
    grain = "day" if whole_day and result.get("definition") == "accurate" else "hour"
    if result.get("definition") == "blur":
        grain = "hour"
    return start, grain


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+{_DAY}\b|\b{_DAY}\s+(?:of\s+)?{_MONTH}")


def _impossible_english_date(text: str) -> bool:
    """ "Feb 30", "31st of february": parsedatetime would roll them over; they do not exist."""
    match = _MONTH_DAY.search(text)
    if not match:
        return False
    month_name = match.group(1) or match.group(4)
    day = int(match.group(2) or match.group(3))
    try:
        date(2028, _MONTHS.index(month_name[:3]) + 1, day)  # a leap year: 29 Feb exists
    except ValueError:
        return True
    return False


def _showroom_hour(match: re.Match[str]) -> str:
    hour = int(match.group(1))
    if 1 <= hour <= 7:
        return f"at {hour + 12}:00"
    return f"at {hour}:00" if 8 <= hour <= 23 else match.group(0)


def _parse_english_time(plain: str, now: datetime) -> tuple[datetime, str] | None:
    import parsedatetime

    text = re.sub(r"\b(?:the\s+)?day after tomorrow\b", "in 2 days", plain)
    text = re.sub(r"\bthis weekend\b|\bweekend\b", "saturday", text)
    # parsedatetime reads "this afternoon" against the wall clock, not the reference time.
    text = re.sub(r"\bthis (morning|afternoon|evening)\b", r"today \1", text)
    # "the 15th": this month's, or next month's once it has passed.
    day_of_month = re.search(r"\b(?:on\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)\b", text)
    if day_of_month and not re.search(r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec", text):
        day = int(day_of_month.group(1))
        year, month = now.year, now.month
        if day < now.day:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        try:
            target = date(year, month, day)
        except ValueError:
            return None  # "the 31st" of a 30-day month
        text = text.replace(day_of_month.group(0), target.strftime(" %Y-%m-%d "))
    # "at 3" in a showroom conversation means 3 pm; "at 10" is 10:00.
    text = re.sub(r"\bat (\d{1,2})\b(?!\s*(?:am|pm|a\.m|p\.m|:|\d))", _showroom_hour, text)
    if _impossible_english_date(text):
        return None
    calendar = parsedatetime.Calendar(version=parsedatetime.VERSION_CONTEXT_STYLE)
    parsed, context = calendar.parseDT(text, sourceTime=now.replace(tzinfo=None))
    if not context.hasDate and not context.hasTime:
        return None
    grain = "hour" if context.hasTime else "day"
    if not context.hasTime:
        parsed = datetime.combine(parsed.date(), time(0, 0))
    return parsed, grain


def parse_time(text: str, now: datetime) -> tuple[datetime, str] | None:
    """The moment a buyer means, in the zone of ``now`` (aware), and its grain (day or hour).

    Conventions (docs/nlu-annotation.md): a part of day without an hour gives 早上/morning 09:00,
    上午 10:00, 中午/noon 12:00, 下午/afternoon 14:00, 傍晚 17:00, 晚上/evening 19:00; a date alone
    gives 00:00; a weekday names the next such day. Times that do not exist ("2月30日") give None.
    """
    plain = normalize_text(text)
    if not plain:
        return None
    if not CJK.search(plain):
        plain = _english_time_words(plain)
    parsed = (
        _parse_chinese_time(plain, now) if CJK.search(plain) else _parse_english_time(plain, now)
    )
    if parsed is None:
        return None
    moment, grain = parsed
    if _RELATIVE_CLOCK.search(plain):
        # "半小时后", "in 20 mins": the parsed moment itself.
        return moment.replace(second=0, microsecond=0, tzinfo=now.tzinfo), "minute"
    if (
        _EXPLICIT_HOUR.search(plain)
        and 1 <= moment.hour <= 6
        and not _MORNING.search(plain)
        and not _AFTERNOON.search(plain)
    ):
        moment += timedelta(hours=12)  # "6点" at a showroom is 18:00, not dawn
    if not _EXPLICIT_HOUR.search(plain):
        hour = _part_of_day_hour(plain)
        if hour is not None:
            moment, grain = datetime.combine(moment.date(), time(hour, 0)), "hour"
        else:
            moment, grain = datetime.combine(moment.date(), time(0, 0)), "day"
    if (
        _WEEKDAY_WORD.search(plain)
        and not _PAST_MARKER.search(plain)
        and moment.date() < now.date()
    ):
        moment += timedelta(days=7)  # "周一" said on a Wednesday: next Monday
    return moment.replace(tzinfo=now.tzinfo), grain


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# A value is a few words. A longer span is none that the readers below would find, and the libraries
# they use (JioNLP, parsedatetime) take more than linear time on long text.
MAX_VALUE_CHARS = 80


def normalize(entity: str, text: str, now: datetime) -> Any:
    """The normalized value of ``entity`` written as ``text``; None if it cannot be normalized."""
    if len(text) > MAX_VALUE_CHARS:
        return None
    if entity == "car_model":
        return car_model_code(text)
    if entity == "budget":
        return budget_cny(text)
    if entity == "phone":
        return phone_e164(text)
    if entity == "time":
        parsed = parse_time(text, now)
        return iso(parsed[0]) if parsed else None
    if entity == "purchase_timeline":
        return purchase_timeline_days(text)
    if entity == "payment":
        return payment(text)
    if entity == "body_type":
        return body_type(text)
    if entity == "powertrain":
        return powertrain(text)
    if entity == "seats":
        return seats(text)
    if entity == "rating":
        return rating(text)
    if entity == "person_name":
        name = text.strip(" \t\r\n，,。.!！?？:：")
        return name or None
    return text
