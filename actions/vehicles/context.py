"""What a question about the cars is about: the models, equipment, colour and trim it names, or,
for a follow-up ("那这款呢", "它有座椅通风吗", "what about the Q7?"), the car in context."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.base import asked_models, entity_values

# The model the conversation is about, the last question answered (topic and what it named), the
# models already presented, and questions the data could not answer (kept for the lead).
FOCUS: Final = "focus_model"
LAST: Final = "last_question"
PRESENTED: Final = "presented_models"
OPEN: Final = "open_questions"

_FOLLOW_UP = re.compile(
    r"^\s*(?:那|那么|那个|还有|再问下|and|what about|how about|and the|and for|same for)"
    r"|(?:呢|呐|咧)\s*[?？。.!！~]*\s*$|\b(?:what about|how about)\b",
    re.IGNORECASE,
)
_REFERS_BACK = re.compile(r"这款|这台|这个车|这车|它|那款|那台|\bit\b|\bthis one\b|\bthat one\b",
                          re.IGNORECASE)  # fmt: skip
# Words that ask a question of their own: a message with them is not a bare follow-up.
_OWN_QUESTION = re.compile(
    r"多少钱|价格|报价|落地|优惠|现车|库存|提车|到货|配置|标配|选装|有没有|有木有|介绍|对比|比较|区别|"
    r"how much|price|stock|deliver|equip|compare|versus|\bvs\b|tell me|have",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Subject:
    """What the latest message asks about, filled in from the conversation where it is silent."""

    text: str
    models: list[str]
    features: list[str] = field(default_factory=list)
    color: str | None = None
    competitors: list[str] = field(default_factory=list)
    from_context: bool = False

    @property
    def model(self) -> str | None:
        return self.models[0] if self.models else None


def _strings(tracker: Tracker, entity: str) -> list[str]:
    return [v for v in entity_values(tracker, entity) if isinstance(v, str)]


def is_follow_up(text: str) -> bool:
    """A short message that continues the last question ("那Q7呢", "and in black?")."""
    plain = text.strip()
    if not plain or len(plain) > 40:
        return False
    return bool(_FOLLOW_UP.search(plain)) and not _OWN_QUESTION.search(plain)


def subject_of(tracker: Tracker) -> Subject:
    text: str = tracker.latest_message.get("text") or ""
    models = asked_models(tracker)
    last: dict[str, Any] = tracker.get_slot(LAST) or {}
    features = _strings(tracker, "feature")
    colors = _strings(tracker, "color")
    from_context = False
    if not models and tracker.get_slot(FOCUS):
        models, from_context = [tracker.get_slot(FOCUS)], True
    if is_follow_up(text) and not features:
        features = list(last.get("features") or [])
    return Subject(
        text=text,
        models=models,
        features=features,
        color=colors[0] if colors else (last.get("color") if is_follow_up(text) else None),
        competitors=_strings(tracker, "competitor"),
        from_context=from_context or bool(_REFERS_BACK.search(text)),
    )


def remember(tracker: Tracker, topic: str, subject: Subject) -> list[EventType]:
    """Slots that let the next message follow up on this answer."""
    events: list[EventType] = [
        SlotSet(LAST, {"topic": topic, "features": subject.features, "color": subject.color})
    ]
    if subject.model and subject.model != tracker.get_slot(FOCUS):
        events.append(
            SlotSet(FOCUS, subject.models[-1] if not subject.from_context else subject.model)
        )
    return events


def note_open_question(tracker: Tracker, question: str) -> list[EventType]:
    """Keep a question for the consultant to confirm; it reaches the lead with the next write."""
    known = list(tracker.get_slot(OPEN) or [])
    return [] if question in known else [SlotSet(OPEN, [*known, question])]


def last_topic(tracker: Tracker) -> str | None:
    last: dict[str, Any] = tracker.get_slot(LAST) or {}
    topic = last.get("topic")
    return topic if isinstance(topic, str) else None
