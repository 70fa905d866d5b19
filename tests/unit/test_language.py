import pytest

from actions.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好", "zh"),
        ("hello", "en"),
        ("Hi there, do you have the Q5L in stock?", "en"),
        ("想book一个test drive", "zh"),
        ("Q5L 多少钱", "zh"),
        ("q5l", None),
        ("A6L 45TFSI", None),
        ("13800138000", None),
        ("30w", None),
        ("ok", None),
        ("👍👍", None),
        ("", None),
        ("  ", None),
        ("<script>alert(1)</script>", None),
        ("e-tron GT", None),
        ("I want an e-tron", "en"),
        ("繁體中文也算", "zh"),
    ],
)
def test_detects_the_language_customers_write_in(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


def test_huge_and_binary_input_is_handled() -> None:
    assert detect_language("好" * 10_000) == "zh"
    assert detect_language("\x00\x01\x02\ufffd") is None


def test_markup_and_code_keep_the_language() -> None:
    assert detect_language("<script>alert(1)</script>") is None
    assert detect_language("Robert'); DROP TABLE customers;--") is None
    assert detect_language("hello there") == "en"
