"""Hostile and odd input through the NLU components: no error, no stall; too long: not parsed.

Every pattern must run in time linear in the message: a message of spaces between digits used to
keep the server busy for seconds (a cubic timeline pattern), and every other customer waited.
The deadlines below are far above what a message costs (a few milliseconds); they catch a stall,
they do not measure speed (bench/ does).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu.gazetteer import GazetteerExtractor, GazetteerFeaturizer
from nlu.limits import MAX_MESSAGE_CHARS, TOO_LONG
from nlu.normalizer import EntityNormalizer
from nlu.tokenizer import MixedTokenizer

ENTITY_TYPES = ("time", "phone", "budget", "rating", "purchase_timeline", "person_name",
                "car_model", "seats", "payment", "body_type", "powertrain")  # fmt: skip
TOKENIZER = MixedTokenizer(MixedTokenizer.get_default_config())
FEATURIZER = GazetteerFeaturizer(GazetteerFeaturizer.get_default_config(), "gazetteer")
EXTRACTOR = GazetteerExtractor(GazetteerExtractor.get_default_config())
NORMALIZER = EntityNormalizer({"timezone": "Asia/Shanghai"})
STALL = settings(deadline=timedelta(seconds=3), max_examples=150,
                 suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


def through_the_pipeline(text: str) -> Message:
    """The message as the pipeline's own components see it, with the worst a learned extractor
    could add: every entity type over the whole message and over each token."""
    message = Message({TEXT: text, INTENT: {"name": "greet", "confidence": 0.9}})
    TOKENIZER.process([message])
    FEATURIZER.process([message])
    EXTRACTOR.process([message])
    parsed = message.get(TEXT) or ""
    spans = [(0, len(parsed))] + [(t.start, t.end) for t in message.get(TOKENS_NAMES[TEXT]) or []]
    guessed = [{"entity": kind, "start": start, "end": end, "value": parsed[start:end],
                "extractor": "DIETClassifier"}
               for kind in ENTITY_TYPES for start, end in spans[:40] if parsed]  # fmt: skip
    message.set(ENTITIES, (message.get(ENTITIES) or []) + guessed)
    NORMALIZER.process([message])
    json.dumps(message.as_dict(only_output_properties=True), default=str)  # what Rasa sends on
    return message


# What used to stall or cost seconds, at the longest length that is parsed.
ADVERSARIAL = {
    "digit, spaces, digit": "1" + " " * (MAX_MESSAGE_CHARS - 2) + "2",
    "number, spaces, a unit": "30" + " " * (MAX_MESSAGE_CHARS - 3) + "万",
    "number, spaces, 个, spaces, 多": "1" + " " * 330 + "个" + " " * 330 + "多" + " " * 330,
    "numerals": "十" * MAX_MESSAGE_CHARS,
    "digits and dashes": "1-" * (MAX_MESSAGE_CHARS // 2),
    "digits and spaces": "1 " * (MAX_MESSAGE_CHARS // 2),
    "a request said 30 times": ("想试驾Q5L 明天3点 138 0013 8000 预算30万 " * 30)[
        :MAX_MESSAGE_CHARS
    ],
}


@STALL
@given(st.sampled_from(sorted(ADVERSARIAL)))
def test_what_used_to_stall_is_read_at_once(name: str) -> None:
    message = through_the_pipeline(ADVERSARIAL[name])
    assert message.get(TOKENS_NAMES[TEXT])  # parsed: it is within the limit


printable = st.text(max_size=MAX_MESSAGE_CHARS)
any_unicode = st.text(st.characters(codec="utf-8"), max_size=MAX_MESSAGE_CHARS)
binary = st.binary(max_size=MAX_MESSAGE_CHARS).map(lambda b: b.decode("utf-8", "replace"))
pieces = st.sampled_from(["想试驾", "Q5L", "138 0013 8000", "明天下午3点", "30万", " ", "  ",
                          "十", "个", "多", "<script>alert(1)</script>", "'; DROP TABLE leads;--",
                          "🚗", "😀😀", "\u200b", "\x00", "\n", "within a month", "一周内",
                          "<b>", "&amp;", '=HYPERLINK("x")', "%s%n", "{limit}", "1",
                          "-"])  # fmt: skip
assembled = st.lists(pieces, max_size=300).map("".join).map(lambda t: t[:MAX_MESSAGE_CHARS])


@STALL
@given(st.one_of(printable, any_unicode, binary, assembled))
@example("")
@example("\x00\x01\x02")
@example("🚗" * MAX_MESSAGE_CHARS)
def test_any_text_is_read_without_error_or_stall(text: str) -> None:
    message = through_the_pipeline(text)
    for entity in message.get(ENTITIES) or []:
        assert 0 <= entity["start"] <= entity["end"] <= len(text)


@STALL
@given(
    st.text(min_size=1, max_size=200).map(lambda t: (t * 2000)[: MAX_MESSAGE_CHARS + 1 + len(t)])
)
def test_a_message_over_the_limit_is_not_parsed(text: str) -> None:
    message = through_the_pipeline(text)
    output: dict[str, Any] = message.as_dict(only_output_properties=True)
    assert output[INTENT] == {"name": "nlu_fallback", "confidence": 1.0}
    assert output[ENTITIES] == []
    assert output[TOO_LONG] == {"chars": len(text), "limit": MAX_MESSAGE_CHARS}
    assert not message.get(TOKENS_NAMES[TEXT])


def test_a_message_at_the_limit_is_parsed() -> None:
    message = through_the_pipeline(("想试驾Q5L " * 200)[:MAX_MESSAGE_CHARS])
    assert message.get(TOO_LONG) is None
    assert len(message.get(TOKENS_NAMES[TEXT])) > 100
    assert any(e["entity"] == "car_model" for e in message.get(ENTITIES))
