"""The checks every needs-analysis answer passes before anything is stored."""

from __future__ import annotations

from typing import Any

import pytest

from actions import slots as checks
from actions.qualification import required_slots_for


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("我的电话是13800138000", "+8613800138000"),
        ("+44 20 7946 0958", "+442079460958"),
        ("12345", None),
        ("1380013800", None),  # ten digits
        ("138001380001", None),  # twelve
        ("00000000000", None),
        ("call me", None),
        ("", None),
        ("1" * 10_000, None),
        (13800138000, None),  # not text
    ],
)
def test_phone(value: Any, expected: str | None) -> None:
    assert checks.clean_phone(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("张伟", "张伟"),
        ("我叫张伟", "张伟"),
        ("我姓王", "王"),
        ("叫我李先生就行", "李先生"),
        ("欧阳娜娜", "欧阳娜娜"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("John Smith", "John Smith"),
        ("my name is Seán O'Brien", "Seán O'Brien"),
        ("I'm Anna", "Anna"),
        # spoken: fillers come off, a lower-case transcript gets capitals
        ("um tom zhang", "Tom Zhang"),
        ("uh my name is tom zhang", "Tom Zhang"),
        ("嗯 我叫刘洋", "刘洋"),
        ("那个 王磊", "王磊"),
        ("ann", "Ann"),
        ("DJ Khaled", "DJ Khaled"),
        ("Umberto Eco", "Umberto Eco"),
        ("<script>alert(1)</script>", None),
        ("Robert'); DROP TABLE customers;--", None),
        ("张伟13800138000", None),
        ("😀😀😀", None),
        ("", None),
        ("   ", None),
        ("x" * 10_000, None),
        ("\x00\x01binary", None),
    ],
)
def test_name(value: str, expected: str | None) -> None:
    assert checks.clean_name(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (400000, 400000),
        (40, 400000),  # "40" answered to the budget question means 40万
        ("40", 400000),
        ("大概40万吧", 400000),
        ("350k", 350000),
        ("1,200,000", 1200000),
        (0, None),
        (-5, None),
        (10**12, None),
        ("不知道", None),
        (True, None),
    ],
)
def test_budget(value: Any, expected: int | None) -> None:
    assert checks.clean_budget(value) == expected


def test_timeline_payment_and_models() -> None:
    assert checks.clean_timeline(14) == 14
    assert checks.clean_timeline(-1) is None
    assert checks.clean_timeline(100_000) is None
    assert checks.clean_payment("loan") == "loan"
    assert checks.clean_payment("bitcoin") is None
    assert checks.clean_models(["Q5L", "A6L", "Q5L"], {"Q5L", "A6L"}) == ["Q5L", "A6L"]
    assert checks.clean_models(["Model Y"], {"Q5L"}) is None
    assert checks.clean_models([], {"Q5L"}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("一台2016年的帕萨特", "2016年的帕萨特"),
        ("有，一辆2018款的A4L", "2018款的A4L"),
        ("2015 Honda Accord", "2015 Honda Accord"),
        ("yes, a 2015 Honda Accord", "2015 Honda Accord"),
        ("有", None),
        ("<b>Passat</b>", None),
        ("x'; DROP TABLE leads; --", None),
        ("y" * 500, None),
    ],
)
def test_trade_in_vehicle(value: str, expected: str | None) -> None:
    assert checks.clean_trade_in_vehicle(value) == expected


def test_corrections_are_recognised() -> None:
    assert checks.is_correction("不对，预算是35万")
    assert checks.is_correction("sorry, I meant the A6L")
    assert not checks.is_correction("预算35万")


def test_form_order() -> None:
    needs = ["car_models", "budget", "purchase_timeline", "payment", "trade_in"]
    assert required_slots_for({}) == [*needs, "consent"]
    # A name or phone volunteered up front: consent is asked first.
    assert required_slots_for({"phone": "+8613800138000"}) == ["consent", *needs, "phone"]
    assert required_slots_for({"consent": True}) == [*needs, "consent", "name", "phone"]
    assert required_slots_for({"consent": False}) == [*needs, "consent"]
    assert required_slots_for({"trade_in": True, "consent": True}) == [
        *needs, "trade_in_vehicle", "consent", "name", "phone",
    ]  # fmt: skip
    assert required_slots_for({"skipped_slots": ["budget", "name"], "consent": True}) == [
        "car_models", "purchase_timeline", "payment", "trade_in", "consent", "phone",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("全款，没有旧车", False),
        ("不用置换，直接买", False),
        ("first car for me", False),
        ("有台旧车想置换", True),
        ("I want to trade in my Passat", True),
        ("想看A6L，预算50万", None),
    ],
)
def test_trade_in_statements(text: str, expected: bool | None) -> None:
    assert checks.trade_in_mentioned(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("有", True), ("有，一台2016年的帕萨特", True), ("yes I do", True), ("没有", False),
     ("no", False), ("有什么SUV", None), ("同意", None)],
)  # fmt: skip
def test_yes_or_no(text: str, expected: bool | None) -> None:
    assert checks.yes_or_no(text) is expected
