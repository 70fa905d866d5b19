"""The dictionary component: equipment, competitors and colours with their values."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from rasa.shared.nlu.training_data.message import Message

from nlu.gazetteer import RESOURCE, GazetteerExtractor, entities
from nlu.normalizer import normalize_entities

NOW = datetime(2026, 1, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def found(text: str) -> list[tuple[str, str, str]]:
    return [(text[e["start"] : e["end"]], e["entity"], e["value"]) for e in entities(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Q5L有座椅加热吗", [("座椅加热", "feature", "seat_heating")]),
        ("定速巡航有没有", [("定速巡航", "feature", "cruise_control")]),
        ("自适应巡航呢", [("自适应巡航", "feature", "adaptive_cruise")]),  # longest match wins
        ("does the A6L have heated seats and a 360 camera",
         [("heated seats", "feature", "seat_heating"), ("360 camera", "feature", "camera_360")]),
        ("和宝马X3比怎么样", [("宝马X3", "competitor", "BMW X3")]),
        ("x3 or glc", [("x3", "competitor", "BMW X3"), ("glc", "competitor", "Mercedes-Benz GLC")]),
        ("ＭＯＤＥＬ Ｙ和Q4哪个好", [("ＭＯＤＥＬ Ｙ", "competitor", "Tesla Model Y")]),
        ("比亚迪汉还是汉兰达", [("比亚迪汉", "competitor", "BYD Han"),
                        ("汉兰达", "competitor", "Toyota Highlander")]),
        ("想要白色的Q5L有现车吗", [("白色的", "color", "white")]),
        ("in nardo grey please", [("nardo grey", "color", "grey")]),
    ],
)  # fmt: skip
def test_dictionary_words_get_their_values(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text", ["我明白的", "发个红包", "理想的车是啥样", "accordingly", "a lone 汉字", "蓝牙能连吗"]
)
def test_words_that_only_contain_a_dictionary_word_are_not_matched(text: str) -> None:
    assert found(text) == []


def test_every_feature_and_colour_code_is_a_data_file_code() -> None:
    data = yaml.safe_load(RESOURCE.read_text(encoding="utf-8"))
    # The same codes as crm_bridge.dealer_data.FEATURES / COLORS (the app environment's copy).
    assert len(data["feature"]) == 21
    assert set(data["color"]) == {"white", "black", "grey", "silver", "blue", "red", "green",
                                  "brown"}  # fmt: skip


def test_a_competitor_is_never_a_catalog_code() -> None:
    text = "Q5L和宝马X3哪个好"
    diet = [{"entity": "car_model", "start": 0, "end": 3, "value": "Q5L"},
            {"entity": "car_model", "start": 6, "end": 8, "value": "X3"}]  # fmt: skip
    result = normalize_entities(text, diet + entities(text), NOW)
    assert [(e["entity"], e["value"]) for e in result] == [
        ("car_model", "Q5L"), ("competitor", "BMW X3"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "span"),
    [("Good morning, any offers on the Q3?", "Good morning"), ("早上好，Q3有优惠吗", "早上好")],
)
def test_a_greeting_is_not_a_time(text: str, span: str) -> None:
    start = text.index(span)
    diet = [{"entity": "time", "start": start, "end": start + len(span), "value": span}]
    assert normalize_entities(text, diet, NOW) == []
    answer = [{"entity": "time", "start": 0, "end": 7, "value": "morning"}]
    assert normalize_entities("morning", answer, NOW)[0]["value"].startswith("2026-01-07T09:00")


def test_the_component_replaces_learned_guesses_of_its_types() -> None:
    component = GazetteerExtractor(GazetteerExtractor.get_default_config())
    message = Message({"text": "A6L有空悬吗", "entities": [
        {"entity": "feature", "start": 0, "end": 3, "value": "A6L"},
        {"entity": "car_model", "start": 0, "end": 3, "value": "A6L"},
    ]})  # fmt: skip
    [processed] = component.process([message])
    assert [(e["entity"], e["value"]) for e in processed.get("entities")] == [
        ("car_model", "A6L"), ("feature", "air_suspension"),
    ]  # fmt: skip


def test_the_featurizer_marks_dictionary_tokens() -> None:
    from rasa.nlu.tokenizers.tokenizer import Token

    from nlu.gazetteer import GazetteerFeaturizer

    featurizer = GazetteerFeaturizer(GazetteerFeaturizer.get_default_config(), "gazetteer")
    text = "Q8跟保时捷卡宴比"
    tokens = [Token("Q8", 0), Token("跟", 2), Token("保时捷", 3), Token("卡宴", 6), Token("比", 8)]
    message = Message({"text": text, "text_tokens": tokens})
    featurizer.process([message])
    sequence, sentence = message.get_sparse_features("text")
    assert sequence is not None
    assert sentence is not None
    assert sequence.features.toarray().tolist() == [
        [0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0],
    ]  # fmt: skip
    assert sentence.features.toarray().tolist() == [[0, 1, 0]]
