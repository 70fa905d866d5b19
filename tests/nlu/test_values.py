"""Normalized entity values (nlu/values.py, nlu/catalog.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from nlu import values
from nlu.catalog import CATALOG_CODES, car_model_code

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 1, 7, 10, 0, tzinfo=SHANGHAI)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("q5", "Q5L"), ("奥迪Q5", "Q5L"), ("Q5 L", "Q5L"), ("Ｑ５Ｌ", "Q5L"), ("a6", "A6L"),
        ("奥迪A6L 45TFSI", "A6L"), ("A4", "A4L"), ("a8l", "A8L"), ("Q2", "Q2L"), ("q3", "Q3"),
        ("Q4 etron", "Q4 e-tron"), ("q4", "Q4 e-tron"), ("Q5 e-tron", "Q5 e-tron"),
        ("etron gt", "e-tron GT"), ("RS e-tron GT", "e-tron GT"), ("新款Q7", "Q7"), ("q8", "Q8"),
        ("Q6", "Q6"), ("A3", "A3"), ("a7", "A7L"),
    ],
)  # fmt: skip
def test_car_models_to_catalog_codes(text: str, code: str) -> None:
    assert car_model_code(text) == code
    assert code in CATALOG_CODES


@pytest.mark.parametrize("text", ["宝马X5", "特斯拉", "Model Y", "", "GT", "奥迪"])
def test_other_cars_are_not_catalog_models(text: str) -> None:
    assert car_model_code(text) is None


@pytest.mark.parametrize(
    ("text", "cny"),
    [
        ("三十万左右", 300_000), ("30w", 300_000), ("30W", 300_000), ("350k", 350_000),
        ("最多40万", 400_000), ("30到40万", 400_000), ("三十到四十万", 400_000),
        ("四十来万", 400_000), ("50 万以内", 500_000), ("1.2m", 1_200_000),
        ("一百二十万", 1_200_000), ("¥300,000", 300_000), ("300k-400k", 400_000),
        ("one million", 1_000_000), ("不超过50个", 500_000), ("35.5万", 355_000),
        ("二十八万八", 288_000), ("30", 300_000),
        # spoken: amount words, approximate Chinese ranges
        ("around nine hundred thousand", 900_000), ("about nine hundred thousand yuan", 900_000),
        ("around 900 thousand", 900_000), ("eight hundred grand", 800_000),
        ("half a million", 500_000), ("a million", 1_000_000),
        ("one point two million", 1_200_000),
        ("six hundred and fifty thousand", 650_000), ("三四十万", 400_000),
        ("五六十万左右", 600_000),
    ],
)  # fmt: skip
def test_budgets_to_integer_cny(text: str, cny: int) -> None:
    assert values.budget_cny(text) == cny


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("13800138000", "+8613800138000"), ("138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"), ("+86 138 0013 8000", "+8613800138000"),
        ("8613800138000", "+8613800138000"), ("(+86)13800138000", "+8613800138000"),
        ("021-6888 8888", "+862168888888"), ("+44 7911 123456", "+447911123456"),
        ("１３８００１３８０００", "+8613800138000"),
    ],
)  # fmt: skip
def test_phones_to_e164(text: str, e164: str) -> None:
    assert values.phone_e164(text) == e164


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("一八六 一二三四 五六七八", "+8618612345678"),
        ("幺三八洞洞幺三八洞洞洞", "+8613800138000"),
        ("one five nine one two three four five six seven eight", "+8615912345678"),
        ("um one five nine, one two three four, five six seven eight", "+8615912345678"),
        ("one three eight oh oh one three eight oh oh oh", "+8613800138000"),
    ],
)  # fmt: skip
def test_phones_read_out_digit_by_digit(text: str, e164: str) -> None:
    assert values.phone_e164(text) == e164
    assert [found[2] for found in values.spoken_phones(text)] == [e164]


@pytest.mark.parametrize(
    "text", ["一二三四五六七", "one two three four five six seven", "九十万左右", "一百二十万",
             "nine hundred thousand", "我想一二月份买"],
)  # fmt: skip
def test_spoken_numbers_that_are_not_phones(text: str) -> None:
    assert values.spoken_phones(text) == []
    assert values.phone_e164(text) is None


@pytest.mark.parametrize("text", ["12345", "138001380001", "1380013800", "abc", "", "00000000000"])
def test_wrong_phone_numbers_are_refused(text: str) -> None:
    assert values.phone_e164(text) is None


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("这周六上午", "2026-01-10T10:00:00+08:00"),
        ("明天下午三点", "2026-01-08T15:00:00+08:00"),
        ("下周三下午", "2026-01-14T14:00:00+08:00"),
        ("周五下午3点半", "2026-01-09T15:30:00+08:00"),
        ("后天上午10点", "2026-01-09T10:00:00+08:00"),
        ("今晚", "2026-01-07T19:00:00+08:00"),
        ("1月15号上午10点", "2026-01-15T10:00:00+08:00"),
        ("周一", "2026-01-12T00:00:00+08:00"),
        ("next friday 3pm", "2026-01-16T15:00:00+08:00"),
        ("next Friday at 3pm", "2026-01-16T15:00:00+08:00"),
        ("tomorrow afternoon", "2026-01-08T14:00:00+08:00"),
        ("saturday morning", "2026-01-10T09:00:00+08:00"),
        ("friday at 3", "2026-01-09T15:00:00+08:00"),
        ("on the 15th at 10am", "2026-01-15T10:00:00+08:00"),
        ("the day after tomorrow at 2pm", "2026-01-09T14:00:00+08:00"),
        ("tomorrow at noon", "2026-01-08T12:00:00+08:00"),
        ("this afternoon", "2026-01-07T14:00:00+08:00"),
        ("明早", "2026-01-08T09:00:00+08:00"),
        ("6点", "2026-01-07T18:00:00+08:00"),
        ("明天早上6点", "2026-01-08T06:00:00+08:00"),
        ("i am free saturday at 6", "2026-01-10T18:00:00+08:00"),
        ("半小时后", "2026-01-07T10:30:00+08:00"),
        ("in 20 mins", "2026-01-07T10:20:00+08:00"),
        ("tonight", "2026-01-07T19:00:00+08:00"),
        # chat spellings, hours in words (voice transcripts), the showroom's "at 10"
        ("tmr at 3pm", "2026-01-08T15:00:00+08:00"),
        ("tmrw 10am", "2026-01-08T10:00:00+08:00"),
        ("thurs 2pm", "2026-01-08T14:00:00+08:00"),
        ("明儿下午3点", "2026-01-08T15:00:00+08:00"),
        ("saturday at five pm", "2026-01-10T17:00:00+08:00"),
        ("five thirty pm tomorrow", "2026-01-08T17:30:00+08:00"),
        ("half past three tomorrow", "2026-01-08T15:30:00+08:00"),
        ("sat at 10", "2026-01-10T10:00:00+08:00"),
        ("4pm on Friday instead", "2026-01-09T16:00:00+08:00"),
    ],
)
def test_times_to_iso_in_the_dealer_zone(text: str, iso: str) -> None:
    assert values.normalize("time", text, NOW) == iso


@pytest.mark.parametrize("text", ["2月30日", "Feb 30", "the 31st of february", "", "😀"])
def test_impossible_times_are_refused(text: str) -> None:
    assert values.normalize("time", text, NOW) is None


def test_times_follow_the_configured_zone_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    before = datetime(2026, 3, 28, 10, 0, tzinfo=berlin)  # the day before summer time starts
    assert values.normalize("time", "明天下午三点", before) == "2026-03-29T15:00:00+02:00"
    assert values.normalize("time", "tomorrow at 10am", before) == "2026-03-29T10:00:00+02:00"


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("两周之内", 14), ("下个月", 30), ("半年后", 180), ("这周", 7), ("马上", 7),
        ("明年", 365), ("两三个月", 90), ("半个月内", 15), ("一个月内", 30), ("三个月左右", 90),
        ("in 6 months", 180), ("within two weeks", 14), ("a couple of months", 60),
        ("next month", 30), ("asap", 7), ("10天内", 10), ("within a month", 30),
        ("in a week or so", 7), ("half a year", 180),
    ],
)  # fmt: skip
def test_purchase_timelines_to_days(text: str, days: int) -> None:
    assert values.purchase_timeline_days(text) == days


@pytest.mark.parametrize(
    ("entity", "text", "value"),
    [
        ("payment", "全款", "cash"), ("payment", "按揭", "loan"), ("payment", "分期", "loan"),
        ("payment", "以租代购", "lease"), ("payment", "pay in full", "cash"),
        ("payment", "lease", "lease"), ("payment", "finance", "loan"),
        ("body_type", "轿车", "sedan"), ("body_type", "SUV", "suv"),
        ("body_type", "两厢", "hatchback"), ("body_type", "轿跑", "coupe"),
        ("body_type", "旅行版", "wagon"), ("body_type", "sedan", "sedan"),
        ("powertrain", "纯电", "ev"), ("powertrain", "插混", "phev"), ("powertrain", "油车", "ice"),
        ("powertrain", "electric", "ev"), ("powertrain", "plug-in hybrid", "phev"),
        ("powertrain", "gas", "ice"),
        ("seats", "7座", 7), ("seats", "七座的", 7), ("seats", "seven-seater", 7),
        ("seats", "5 seats", 5),
        ("rating", "打9分", 9), ("rating", "五星", 5), ("rating", "满分", 10),
        ("rating", "8 out of 10", 8), ("rating", "10/10", 10),
        ("person_name", "张伟", "张伟"), ("person_name", " Li Ming, ", "Li Ming"),
    ],
)  # fmt: skip
def test_closed_sets_and_small_numbers(entity: str, text: str, value: object) -> None:
    assert values.normalize(entity, text, NOW) == value


@pytest.mark.parametrize("text", ["", " ", "😀😀", "<script>", "'; DROP TABLE x;--", "好" * 10_000])
def test_odd_text_never_raises(text: str) -> None:
    for entity in ("car_model", "budget", "phone", "time", "purchase_timeline", "payment",
                   "body_type", "powertrain", "seats", "rating"):  # fmt: skip
        values.normalize(entity, text, NOW)
