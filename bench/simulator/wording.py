"""Facts in the persona's language and style: numbers, phone numbers, budgets, dates."""

from __future__ import annotations

import re
from typing import Final

ZH_DIGITS: Final = "零一二三四五六七八九"
EN_DIGITS: Final = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
EN_SMALL: Final = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
EN_TENS: Final = (
    "",
    "",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
)
ZH_TIMELINE: Final = {
    7: "一周内",
    14: "两周内",
    30: "一个月内",
    60: "两个月内",
    90: "三个月内",
    180: "半年内",
}
EN_TIMELINE: Final = {
    7: "within a week", 14: "within two weeks", 30: "within a month", 60: "within two months",
    90: "within three months", 180: "within six months",
}  # fmt: skip
ZH_PAYMENT: Final = {"cash": "全款", "loan": "贷款", "lease": "融资租赁"}
EN_PAYMENT: Final = {"cash": "cash", "loan": "a loan", "lease": "leasing"}
FILLERS: Final = {"zh": ("嗯", "那个", "就是"), "en": ("um", "uh", "so", "like")}


def zh_number(n: int) -> str:
    """0 <= n < 10000 in Chinese numerals ("四十五", "一百二十")."""
    if n < 10:
        return ZH_DIGITS[n]
    out = ""
    for value, unit in ((1000, "千"), (100, "百"), (10, "十")):
        digit, n = divmod(n, value)
        if digit:
            out += ("" if (unit == "十" and not out and digit == 1) else ZH_DIGITS[digit]) + unit
        elif out and n:
            out += "" if out.endswith("零") else "零"
    return out + (ZH_DIGITS[n] if n else "")


def en_number(n: int) -> str:
    """0 <= n < 10**9 in English words ("four hundred and fifty thousand")."""
    if n < 20:
        return EN_SMALL[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return EN_TENS[tens] + (f"-{EN_SMALL[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{EN_SMALL[hundreds]} hundred" + (f" and {en_number(rest)}" if rest else "")
    for value, unit in ((1_000_000, "million"), (1000, "thousand")):
        if n >= value:
            high, rest = divmod(n, value)
            joiner = " and " if 0 < rest < 100 else " "
            return f"{en_number(high)} {unit}" + (f"{joiner}{en_number(rest)}" if rest else "")
    raise ValueError(n)


def spoken_digits(text: str, language: str) -> str:
    """A phone number read out digit by digit, in groups as people say it."""
    digits = re.sub(r"\D", "", text)
    groups = [digits[:3], digits[3:7], digits[7:]] if len(digits) == 11 else [digits]
    if language == "zh":
        return " ".join("".join(ZH_DIGITS[int(d)] for d in g) for g in groups if g)
    return " ".join(" ".join(EN_DIGITS[int(d)] for d in g) for g in groups if g)


def budget_words(amount: int, language: str, voice: bool) -> str:
    wan, rest = divmod(amount, 10_000)
    if language == "zh":
        if rest:
            return f"{amount / 10_000:g}万"
        return f"{zh_number(wan)}万" if voice else f"{wan}万"
    if voice:
        return en_number(amount)
    return f"{amount // 1000}k" if amount % 1000 == 0 else f"{amount:,} RMB"


# Answers to a question (several wordings: the next one is used when the question comes again),
# and statements the persona volunteers.
ANSWERS: Final[dict[str, dict[str, list[str]]]] = {
    "zh": {
        "name": ["我叫{name}", "{name}"],
        "phone": ["{phone}", "手机号是{phone}"],
        "model": ["{models}", "想看{models}"],
        "td_model": ["{td_model}", "试驾{td_model}"],
        "budget": ["{budget}左右", "预算{budget}"],
        "timeline": ["{timeline}", "打算{timeline}买"],
        "payment": ["{payment}", "打算{payment}"],
        "trade_in_yes": ["有，一台{car}", "有"],
        "trade_in_no": ["没有", "没有旧车"],
        "trade_in_vehicle": ["{car}", "是一台{car}"],
        "consent_yes": ["同意", "可以，我同意"],
        "consent_no": ["不同意", "不同意，不要保存我的信息"],
        "licence_yes": ["有驾照", "有"],
        "licence_no": ["没有驾照", "没有"],
        "confirm": ["确认", "对，确认预约"],
        "time": ["{time}", "{time}可以吗"],
    },
    "en": {
        "name": ["{name}", "My name is {name}"],
        "phone": ["{phone}", "My number is {phone}"],
        "model": ["The {models}", "I'm interested in the {models}"],
        "td_model": ["The {td_model}", "I'd like to drive the {td_model}"],
        "budget": ["Around {budget}", "My budget is about {budget}"],
        "timeline": ["{timeline}", "I plan to buy {timeline}"],
        "payment": ["{payment}", "I'd pay with {payment}"],
        "trade_in_yes": ["Yes, a {car}", "Yes"],
        "trade_in_no": ["No", "No, nothing to trade in"],
        "trade_in_vehicle": ["A {car}", "It's a {car}"],
        "consent_yes": ["Yes, I agree", "OK, that's fine"],
        "consent_no": ["No, I'd rather not", "No, please don't keep my details"],
        "licence_yes": ["Yes, I have a licence", "Yes"],
        "licence_no": ["No, I don't have a licence", "No"],
        "confirm": ["Yes", "Yes, book it"],
        "time": ["{time}", "{time} please"],
    },
}
STATEMENTS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "model": "想看看{models}",
        "budget": "预算{budget}左右",
        "timeline": "打算{timeline}买",
        "payment": "{payment}",
        "trade_in_yes": "有一台{car}想置换",
        "trade_in_no": "没有旧车置换",
        "name": "我叫{name}",
        "phone": "电话{phone}",
        "test_drive": "想{time}试驾{td_model}",
        "request_test_drive": "我想预约试驾{td_model}",
        "hello": "你好",
        "goodbye": "没有了，谢谢，再见",
        "give_up": "算了，我还是直接去店里问吧，再见",
    },
    "en": {
        "model": "I'm interested in the {models}",
        "budget": "my budget is around {budget}",
        "timeline": "I plan to buy {timeline}",
        "payment": "I'd pay with {payment}",
        "trade_in_yes": "I'd like to trade in my {car}",
        "trade_in_no": "I have no car to trade in",
        "name": "I'm {name}",
        "phone": "my number is {phone}",
        "test_drive": "I'd like to test drive the {td_model} {time}",
        "request_test_drive": "I'd like to book a test drive of the {td_model}",
        "hello": "Hi",
        "goodbye": "No, that's all. Thanks, bye!",
        "give_up": "Forget it, I'll just come to the showroom. Bye",
    },
}
# The facts of the needs analysis, in the order a persona volunteers them.
NEEDS: Final = ("model", "budget", "timeline", "payment", "trade_in")
YES_NO_QUESTIONS: Final = frozenset({"consent", "trade_in", "licence", "confirm"})
# The same question this many times in a row: the persona takes an offered skip, then leaves.
# The question asking for a fact, for the re-ask notes (time and confirmation may be asked again).
FACT_OF: Final = {
    "name": "name", "phone": "phone", "budget": "budget", "timeline": "timeline",
    "payment": "payment", "trade_in": "trade_in", "trade_in_vehicle": "trade_in_vehicle",
    "consent": "consent", "model": "model", "td_model": "model", "licence": "licence",
}  # fmt: skip
SKIP_AFTER: Final = 3
GIVE_UP_AFTER: Final = 6
SKIP: Final = re.compile(r"^(跳过|skip)$", re.IGNORECASE)
