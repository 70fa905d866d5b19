"""The tokenizer and the normalizer as Rasa components."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.normalizer import EntityNormalizer, normalize_entities, timeline_answer
from nlu.tokenizer import MixedTokenizer, split_word

NOW = datetime(2026, 1, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(scope="module")
def tokenizer() -> MixedTokenizer:
    return MixedTokenizer(MixedTokenizer.get_default_config())


def tokens(
    tokenizer: MixedTokenizer, text: str, entities: list[dict[str, Any]] | None = None
) -> list[str]:
    message = Message({"text": text, "entities": entities or []})
    return [t.text for t in tokenizer.tokenize(message, "text")]


def test_registered_the_rasa_3_way() -> None:
    registered = DefaultV1Recipe._registered_components
    assert registered["MixedTokenizer"].clazz is MixedTokenizer
    assert registered["EntityNormalizer"].clazz is EntityNormalizer
    tokenizer_types = registered["MixedTokenizer"].types
    assert DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER in tokenizer_types
    assert DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR in registered["EntityNormalizer"].types


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("想看Q5L预算40万", ["想", "看", "Q5L", "预算", "40", "万"]),
        ("想book一个test drive", ["想", "book", "一个", "test", "drive"]),
        ("电话138 0013 8000", ["电话", "138", "0013", "8000"]),
        ("how much is the a6l", ["how", "much", "is", "the", "a6l"]),
        ("  ", []),
        ("", []),
    ],
)
def test_mixed_text_without_whitespace_tokens(
    tokenizer: MixedTokenizer, text: str, expected: list[str]
) -> None:
    assert tokens(tokenizer, text) == expected


def test_dealership_terms_stay_whole(tokenizer: MixedTokenizer) -> None:
    assert "落地价" in tokens(tokenizer, "Q5L落地价多少")
    assert "以旧换新" in tokens(tokenizer, "可以以旧换新吗")
    assert "试驾" in tokens(tokenizer, "想试驾一下")
    assert "置换补贴" in tokens(tokenizer, "置换补贴多少")


def test_token_offsets_point_into_the_text(tokenizer: MixedTokenizer) -> None:
    text = "我叫张伟，电话 13800138000 ，想看 e-tron GT"
    for token in tokenizer.tokenize(Message({"text": text}), "text"):
        assert text[token.start : token.end] == token.text


def test_training_annotations_are_aligned(tokenizer: MixedTokenizer) -> None:
    # jieba might glue a name to the next word; annotated boundaries always split.
    entities = [{"start": 2, "end": 4, "entity": "person_name", "value": "王芳"}]
    assert "王芳" in tokens(tokenizer, "我是王芳啊", entities)
    assert split_word("王芳啊", 2, {2, 4}) == [("王芳", 2), ("啊", 4)]


def test_normalizer_fills_values_and_drops_what_is_not_a_value() -> None:
    text = "我叫张伟，电话138 0013 8000，想看奥迪Q5，预算三十万左右，看看宝马X5"

    def span(entity: str, part: str) -> dict[str, object]:
        start = text.index(part)
        return {"entity": entity, "start": start, "end": start + len(part), "value": part}

    found = [
        span("person_name", "张伟"),
        span("phone", "138 0013 8000"),
        span("car_model", "奥迪Q5"),
        span("budget", "三十万左右"),
        span("car_model", "宝马X5"),
    ]
    result = normalize_entities(text, found, NOW)
    assert [(e["entity"], e["value"]) for e in result] == [
        ("person_name", "张伟"),
        ("phone", "+8613800138000"),
        ("car_model", "Q5L"),
        ("budget", 300000),
    ]
    assert "EntityNormalizer" in result[1]["processors"]


def test_unnormalizable_phone_and_time_are_kept_and_flagged() -> None:
    text = "电话12345，2月30日来"
    found = [
        {"entity": "phone", "start": 2, "end": 7, "value": "12345"},
        {"entity": "time", "start": 8, "end": 13, "value": "2月30日"},
    ]
    result = normalize_entities(text, found, NOW)
    assert [(e["value"], e["normalized"]) for e in result] == [("12345", False), ("2月30日", False)]


def test_overlapping_entities_of_one_type_are_merged() -> None:
    text = "电话13800138000"
    found = [
        {"entity": "phone", "start": 2, "end": 9, "value": "1380013", "confidence_entity": 0.9},
        {
            "entity": "phone",
            "start": 2,
            "end": 13,
            "value": "13800138000",
            "confidence_entity": 0.6,
        },
    ]
    assert [e["value"] for e in normalize_entities(text, found, NOW)] == ["+8613800138000"]


def test_normalizer_component_processes_messages_and_leaves_training_data() -> None:
    component = EntityNormalizer({"timezone": "Asia/Shanghai"})
    message = Message({"text": "预算30w", "entities": [
        {"entity": "budget", "start": 2, "end": 5, "value": "30w", "extractor": "DIETClassifier"},
    ]})  # fmt: skip
    [processed] = component.process([message])
    assert processed.get("entities")[0]["value"] == 300000
    training = TrainingData([Message({"text": "预算30w", "intent": "inform"})])
    assert component.process_training_data(training) is training


@pytest.mark.parametrize(
    ("text", "pieces", "entity", "value"),
    [
        ("改到1月18日", ["1月", "18日"], "time", "2026-01-18T00:00:00+08:00"),
        ("号码150 1234 5678", ["150 1234", "5678"], "phone", "+8615012345678"),
        ("budget 30-40w", ["30-", "40w"], "budget", 400000),
        ("id rate you 10/10", ["10/", "10"], "rating", 10),
        ("move it to next monday", ["next", "monday"], "time", "2026-01-12T00:00:00+08:00"),
    ],
)
def test_split_values_are_joined(text: str, pieces: list[str], entity: str, value: object) -> None:
    found: list[dict[str, Any]] = []
    for piece in pieces:
        start = text.index(piece, int(found[-1]["end"]) if found else 0)
        found.append({"entity": entity, "start": start, "end": start + len(piece), "value": piece})
    [joined] = normalize_entities(text, found, NOW)
    assert joined["value"] == value
    first, last = int(found[0]["start"]), int(found[-1]["end"])
    assert text[joined["start"] : joined["end"]] == text[first:last]


def test_separate_models_stay_separate() -> None:
    text = "A4L A6L都想看"
    found = [
        {"entity": "car_model", "start": 0, "end": 3, "value": "A4L"},
        {"entity": "car_model", "start": 4, "end": 7, "value": "A6L"},
    ]
    assert [e["value"] for e in normalize_entities(text, found, NOW)] == ["A4L", "A6L"]


@pytest.mark.parametrize(
    ("span", "kind", "value"),
    [
        ("13800138000", "phone", "+8613800138000"),
        ("+86 139 1234 5678", "phone", "+8613912345678"),
        ("400000", "budget", 400000),
        ("40万", "budget", 400000),
    ],
)
def test_a_phone_number_taken_for_a_budget_is_a_phone(span: str, kind: str, value: object) -> None:
    text = f"电话{span}"
    found = [{"entity": "budget", "start": 2, "end": 2 + len(span), "value": span}]
    [entity] = normalize_entities(text, found, NOW)
    assert (entity["entity"], entity["value"]) == (kind, value)


@pytest.mark.parametrize(
    ("text", "days"),
    [("一周内", 7), ("一周内吧", 7), ("大概三个月以内", 90), ("半年", 180), ("within 2 weeks", 14),
     ("明天", None), ("下周三下午", None), ("两周后", 14), ("打算一周内买", 7),
     ("一个月之内就买吧", 30), ("三个月内提车", 90)],
)  # fmt: skip
def test_a_bare_timeline_answer_is_a_timeline(text: str, days: int | None) -> None:
    found = timeline_answer(text, [])
    assert [e["value"] for e in found] == ([days] if days is not None else [])


def test_no_extra_timeline_when_one_was_found() -> None:
    found = [{"entity": "purchase_timeline", "start": 0, "end": 3, "value": 7}]
    assert timeline_answer("一周内", found) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<b>想试驾Q5L</b>", ["想", "试驾", "Q5L"]),
        ("😀😀 q3多少钱 😀", ["q3", "多少", "钱"]),
        ("```test drive pls```", ["test", "drive", "pls"]),
        ("&nbsp;Q5L多少钱<br/>", ["Q5L", "多少", "钱"]),
        ("预算<30万", ["预算", "<", "30", "万"]),  # a lone "<" is not markup
    ],
)
def test_markup_and_emoji_around_a_request_are_not_tokens(
    tokenizer: MixedTokenizer, text: str, expected: list[str]
) -> None:
    assert tokens(tokenizer, text) == expected
    message = Message({"text": text})
    for token in tokenizer.tokenize(message, "text"):
        assert text[token.start : token.end] == token.text  # spans still point into the text


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [("12345", "goodbye", "inform"), ("138 0013", "thank", "inform"), ("886", "goodbye", "goodbye"),
     ("88", "goodbye", "goodbye"), ("12345", "ask_price", "ask_price"),
     ("一八六 一二三四 五六七八", "ask_price", "inform"),
     ("嗯 我的手机是 幺三八 洞洞幺三", "greet", "greet"),
     ("嗯 我的手机是 一三八 一二三四 五六七八", "greet", "inform"),
     ("um my number is one five nine one two three four five six seven eight", "ask_model_info",
      "inform"),
     ("一八六一二三四五六七八 能明天试驾吗", "request_test_drive", "request_test_drive")],
)  # fmt: skip
def test_a_bare_long_number_or_a_number_read_out_is_an_answer(
    text: str, intent: str, expected: str
) -> None:
    from nlu.normalizer import numbers_are_answers

    message = Message({"text": text, "intent": {"name": intent, "confidence": 0.9}})
    numbers_are_answers(message)
    assert message.get("intent")["name"] == expected


def test_a_phone_read_out_is_a_phone_and_not_a_budget() -> None:
    from nlu.normalizer import spoken_phone

    text = "预算嗯 一八六 一二三四 五六七八"
    budget = {"entity": "budget", "start": 4, "end": 7, "value": 186, "extractor": "DIETClassifier"}
    assert spoken_phone(text, [budget]) == [
        {"entity": "phone", "start": 4, "end": 17, "value": "+8618612345678",
         "extractor": "EntityNormalizer"},
    ]  # fmt: skip
    found = {"entity": "phone", "start": 0, "end": 11, "value": "+8613800138000"}
    assert spoken_phone("13800138000 一八六 一二三四 五六七八", [found]) == [found]


def test_a_written_number_the_extractor_missed_is_still_a_phone() -> None:
    from nlu.normalizer import spoken_phone

    text = "你好，我电话136 1111 2222，A6L现在什么价"
    model = {"entity": "car_model", "start": 20, "end": 23, "value": "A6L"}
    assert spoken_phone(text, [model]) == [
        {"entity": "phone", "start": 6, "end": 19, "value": "+8613611112222",
         "extractor": "EntityNormalizer"},
        model,
    ]  # fmt: skip
    # Numbers that are no phone stay what they are.
    assert spoken_phone("预算30万，订单号20261202123456", []) == []


@pytest.mark.parametrize(
    ("text", "days"),
    [("Hi, I'm Michael, I want to buy an A6L within a month, paying cash. Can I test drive it "
      "tomorrow at 10am?", 30),
     ("想一个月内买Q5L，全款", 30), ("三个月以内提车，预算40万", 90),
     ("能在一周内试驾吗", None), ("can I test drive within a week", None), ("I want a Q7", None)],
)  # fmt: skip
def test_a_timeline_inside_a_statement_is_found(text: str, days: int | None) -> None:
    from nlu.normalizer import timeline_in_statement

    found = timeline_in_statement(text, [])
    assert [e["value"] for e in found] == ([days] if days is not None else [])
    for entity in found:
        assert (
            "within" in text[entity["start"] : entity["end"]]
            or "内" in text[entity["start"] : entity["end"]]
        )
    given = [{"entity": "purchase_timeline", "start": 0, "end": 2, "value": 7}]
    assert timeline_in_statement(text, given) == []
