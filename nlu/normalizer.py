"""Fills each extracted entity's ``value`` with its normalized form (DESIGN.md §3)."""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu import values
from nlu.gazetteer import EXTRACTOR as DICTIONARY
from nlu.limits import TOO_LONG

logger = logging.getLogger(__name__)

# Kept with the text as value when they cannot be normalized, so the conversation can say what is
# wrong ("that phone number looks incomplete", "there is no 30 February"); other types are dropped.
KEEP_UNNORMALIZED = {"phone", "time", "person_name"}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class EntityNormalizer(GraphComponent, EntityExtractorMixin):
    """car_model -> catalog code, budget -> int CNY, phone -> E.164, time -> ISO 8601, ..."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"timezone": None}  # None: DEALER_TIMEZONE, else Asia/Shanghai

    @staticmethod
    def required_packages() -> list[str]:
        return ["cn2an", "phonenumbers", "jionlp", "parsedatetime", "text_to_num"]

    def __init__(self, config: dict[str, Any]) -> None:
        zone = config.get("timezone") or os.environ.get("DEALER_TIMEZONE") or "Asia/Shanghai"
        self.timezone = ZoneInfo(zone)
        # The first JioNLP parse builds its tables (~0.2 s): do it now, not on a customer's turn.
        values.parse_time("明天上午十点", datetime.now(self.timezone))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntityNormalizer:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # annotations are spans; values are only computed at run time

    def process(self, messages: list[Message]) -> list[Message]:
        now = datetime.now(self.timezone)
        for message in messages:
            if message.get(TOO_LONG):
                not_understood(message)
                continue
            numbers_are_answers(message)
            entities = message.get(ENTITIES) or []
            text = message.get(TEXT) or ""
            normalized = spoken_phone(text, normalize_entities(text, entities, now, self.name))
            normalized += timeline_answer(text, normalized, self.name)
            normalized += timeline_in_statement(text, normalized, self.name)
            message.set(ENTITIES, normalized, add_to_output=True)
        return messages

    @property
    def name(self) -> str:
        return self.__class__.__name__


# A bare number of four or more digits ("12345", "138 0013") answers a question (a phone, a
# budget); it never greets, thanks or says goodbye the way "88" or "886" do in chat slang.
_BARE_NUMBER = re.compile(r"[\d\s+\-]+")  # fullmatch; the digits are counted
SMALL_TALK = {"greet", "goodbye", "thank", "affirm", "deny"}


def numbers_are_answers(message: Message) -> None:
    """Read a bare number of four or more digits as ``inform`` rather than small talk; so is a
    phone number read out digit by digit ("一八六 一二三四 五六七八", "one five nine ...")."""
    text = (message.get(TEXT) or "").strip()
    intent = message.get(INTENT) or {}
    bare = bool(_BARE_NUMBER.fullmatch(text)) and sum(c.isdigit() for c in text) >= 4
    spoken = values.spoken_phones(text) if not bare else []
    rest = text[: spoken[0][0]] + " " + text[spoken[0][1] :] if len(spoken) == 1 else ""
    only_spoken = bool(rest) and len(rest) <= 40 and bool(_FILLER.fullmatch(rest))
    if not ((bare and intent.get("name") in SMALL_TALK) or only_spoken):
        return
    # A rule, not a guess: certain enough for the fallback classifier after it.
    message.set(INTENT, {"name": "inform", "confidence": 1.0}, add_to_output=True)
    ranking = message.get(INTENT_RANKING_KEY) or []
    message.set(INTENT_RANKING_KEY, [{"name": "inform", "confidence": 1.0},
                                     *(r for r in ranking if r.get("name") != "inform")],
                add_to_output=True)  # fmt: skip


def not_understood(message: Message) -> None:
    """A message the pipeline did not read (too long): nothing found, certainly not understood."""
    fallback = {"name": "nlu_fallback", "confidence": 1.0}
    message.set(INTENT, fallback, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [fallback], add_to_output=True)
    message.set(ENTITIES, [], add_to_output=True)
    message.set(TOO_LONG, message.get(TOO_LONG), add_to_output=True)


# What may stand around a number read out on the phone ("嗯 一八六…", "um it's one five nine …").
_FILLER = re.compile(
    r"[\s,，。.!！~]*(?:(?:嗯|呃|那个|就是|我的|电话|手机|号码|手机号|是|吧|哦|"
    r"um|uh|er|so|my|number|phone|mobile|is|it's|its|it is)[\s,，。.!！~:：]*)*",
    re.IGNORECASE,
)


def spoken_phone(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add a phone number read out digit by digit, or written in digits but missed by the
    extractor, when it found none; a number taken from inside it (a budget, a rating) goes."""
    if any(e["entity"] == "phone" for e in entities):
        return entities
    spoken = values.spoken_phones(text) or values.written_phones(text)
    if len(spoken) != 1:
        return entities
    start, end, e164 = spoken[0]
    kept = [
        e for e in entities
        if not ("start" in e and e["start"] < end and start < e["end"]
                and e["entity"] in NUMBERS_NOT_PHONES)
    ]  # fmt: skip
    phone = {"entity": "phone", "start": start, "end": end, "value": e164,
             "extractor": "EntityNormalizer"}  # fmt: skip
    return sorted([*kept, phone], key=lambda e: (e.get("start", 0), e["entity"]))


# Values that run over several tokens: when the extractor splits one ("1月" + "18日",
# "150 1234" + "5678", "30-" + "40w"), adjacent pieces of the same type are one entity.
CONTIGUOUS = {"time", "phone", "budget", "rating", "purchase_timeline", "person_name"}
_JOINERS = {
    "phone": " -",
    "time": " ",
    "budget": " -~到至",
    "rating": " /",
    "purchase_timeline": " ",
}


# A bare answer to "when are you planning to buy?" ("一周内吧", "三个月以内", "within 2 weeks"):
# the extractor sometimes misses it when the message holds nothing else.
# (fullmatch; each run of spaces can be read one way only, so the time is linear in the message)
_TIMELINE_ANSWER = re.compile(
    r"(?:(?:大概|大约|应该|估计|可能|争取|计划|打算|最好|希望)\s*)?"
    r"(?:\d+|[一二两三四五六七八九十半几]+)\s*(?:个\s*)?(?:多\s*)?(?:天|日|周|星期|礼拜|月|年)"
    r"\s*(?:(?:内|以内|之内|左右|后|以后|之后)\s*)?(?:就)?(?:(?:买|购车|购买|提车|入手|下单|定)\s*)?"
    r"(?:(?:吧|呢|啊|呀|哈|的样子)\s*)?[。.!！~～]*"
    r"|(?:within|in)\s+(?:a|an|one|two|three|four|five|six|\d+)\s+(?:day|week|month|year)s?[.!]*",
    re.IGNORECASE,
)


def timeline_answer(
    text: str, entities: list[dict[str, Any]], processor: str = "EntityNormalizer"
) -> list[dict[str, Any]]:
    """A purchase_timeline entity for a message that is only a timeline, if none was found."""
    if any(e["entity"] in ("purchase_timeline", "time") for e in entities):
        return []
    plain = text.strip()
    if not _TIMELINE_ANSWER.fullmatch(plain):
        return []
    days = values.purchase_timeline_days(plain)
    if days is None:
        return []
    start = text.index(plain)
    return [{"entity": "purchase_timeline", "start": start, "end": start + len(plain),
             "value": days, "extractor": processor}]  # fmt: skip


# A purchase timeline inside a longer statement ("I want to buy an A6L within a month, paying
# cash", "想一个月内买Q5L"): only the unmistakable "within …" forms, outside a test-drive clause.
_TIMELINE_IN_STATEMENT = re.compile(
    r"\bwithin (?:the next )?(?:a|an|one|two|three|four|five|six|a couple of|\d{1,2}) "
    r"(?:day|week|month|year)s?\b"
    r"|(?:\d{1,2}|[一二两三四五六七八九十半几]{1,3})\s*(?:个\s*)?(?:周|星期|礼拜|月|年)\s*(?:内|以内|之内)",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[^,，.。;；!！?？]+")


def timeline_in_statement(
    text: str, entities: list[dict[str, Any]], processor: str = "EntityNormalizer"
) -> list[dict[str, Any]]:
    """A purchase_timeline entity the extractor missed in a statement that names one."""
    if len(text) > 1000 or any(e["entity"] == "purchase_timeline" for e in entities):
        return []
    for clause in _CLAUSE.finditer(text):
        match = _TIMELINE_IN_STATEMENT.search(clause.group())
        if match is None or _TEST_DRIVE_WORDS.search(clause.group()):
            continue
        start, end = clause.start() + match.start(), clause.start() + match.end()
        if any("start" in e and e["start"] < end and start < e["end"] for e in entities):
            continue  # already read as something else (a test-drive time)
        days = values.purchase_timeline_days(match.group())
        if days is not None:
            return [{"entity": "purchase_timeline", "start": start, "end": end, "value": days,
                     "extractor": processor}]  # fmt: skip
    return []


_TEST_DRIVE_WORDS = re.compile(r"试驾|试乘|试开|test[\s-]*drive", re.IGNORECASE)


# Number types the extractor may mistake a bare phone number for.
NUMBERS_NOT_PHONES = {"budget", "rating", "seats", "purchase_timeline"}
_LONG_NUMBER = re.compile(r"^\+?[\d\s-]{11,20}$")


def looks_like_phone(span: str) -> bool:
    """A bare number of 11 or more digits with no unit that is a valid phone number."""
    plain = span.strip()
    digits = sum(c.isdigit() for c in plain)
    return digits >= 11 and bool(_LONG_NUMBER.match(plain)) and values.phone_e164(plain) is not None


def merge_fragments(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join adjacent entities of one contiguous type separated only by spaces or joiners."""
    ordered = sorted(entities, key=lambda e: e.get("start", -1))
    merged: list[dict[str, Any]] = []
    for entity in ordered:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and "start" in entity
            and "end" in previous
            and previous["entity"] == entity["entity"]
            and entity["entity"] in CONTIGUOUS
            and previous["end"] <= entity["start"]
            and all(
                c in _JOINERS.get(entity["entity"], "")
                for c in text[previous["end"] : entity["start"]]
            )
        ):
            confidences = [e.get("confidence_entity") for e in (previous, entity)]
            merged[-1] = {
                **previous,
                "end": entity["end"],
                "value": text[previous["start"] : entity["end"]],
                "confidence_entity": min((c for c in confidences if c is not None), default=None),
            }
        else:
            merged.append(entity)
    return merged


# "Good morning, any offers on the Q3?" greets; it names no time.
_GREETING_TIME = re.compile(
    r"^\s*(?:good\s*(?:morning|afternoon|evening|night)|早上好|早安|上午好|中午好|"
    r"下午好|晚上好|晚安)\s*$",
    re.IGNORECASE,
)


def _greeting(text: str, entity: dict[str, Any]) -> bool:
    if entity["entity"] != "time" or "start" not in entity:
        return False
    span = text[entity["start"] : entity["end"]]
    if span.strip().lower() in ("morning", "evening"):
        # A bare "morning" answers "when?"; at the very start of a longer message it greets.
        return entity["start"] == len(text) - len(text.lstrip()) and len(text.strip()) > len(span)
    return bool(_GREETING_TIME.match(span))


def normalize_entities(
    text: str, entities: list[dict[str, Any]], now: datetime, processor: str = "EntityNormalizer"
) -> list[dict[str, Any]]:
    """Normalized copies of ``entities``; split and overlapping ones of one type are merged.

    Dictionary entities (feature, competitor, colour) come with their values; a catalog code
    found inside a competitor's name ("宝马X3") is dropped, and so is a greeting taken for a time.
    """
    known = [e for e in entities if e.get("extractor") == DICTIONARY]
    competitors = [e for e in known if e["entity"] == "competitor"]
    result: list[dict[str, Any]] = list(known)
    for entity in merge_fragments(text, [e for e in entities if e not in known]):
        if _greeting(text, entity) or any(
            "start" in entity and c["start"] < entity["end"] and entity["start"] < c["end"]
            for c in competitors
        ):
            continue
        span = text[entity["start"] : entity["end"]] if "start" in entity else str(entity["value"])
        if entity["entity"] in NUMBERS_NOT_PHONES and looks_like_phone(span):
            entity = {**entity, "entity": "phone"}  # "13800138000" is never a budget or a rating
        try:
            value = values.normalize(entity["entity"], span, now)
        except Exception as exc:  # a normalizer bug must not lose the customer's message
            # what the customer wrote stays out of the log, and so does the error's text with it
            logger.error(
                "could not normalize a %s of %d characters (%s)",
                entity["entity"], len(span), type(exc).__name__,
            )  # fmt: skip
            value = None
        if value is None and entity["entity"] not in KEEP_UNNORMALIZED:
            continue
        normalized = {**entity, "value": span if value is None else value}
        if value is None:
            normalized["normalized"] = False
        if value is not None and value != entity.get("value"):
            normalized["processors"] = [*entity.get("processors", []), processor]
        result.append(normalized)
    return _without_overlaps(result)


def _without_overlaps(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(entity: dict[str, Any]) -> tuple[bool, int, float]:
        length = entity.get("end", 0) - entity.get("start", 0)
        normalized = entity.get("normalized", True)
        return (normalized, length, float(entity.get("confidence_entity") or 0.0))

    kept: list[dict[str, Any]] = []
    for entity in sorted(entities, key=rank, reverse=True):
        clash = any(
            other["entity"] == entity["entity"]
            and "start" in other
            and "start" in entity
            and other["start"] < entity["end"]
            and entity["start"] < other["end"]
            for other in kept
        )
        if not clash:
            kept.append(entity)
    return sorted(kept, key=lambda e: (e.get("start", 0), e["entity"]))
