"""Erasing what a customer said from Rasa's tracker store (the conversation transcripts).

Rasa's SQL tracker store appends each conversation's events as rows of one ``events`` table and,
when it saves a tracker, writes only the rows beyond those it already holds. Rows are therefore
redacted in place, never deleted: the number of rows stays right and Rasa keeps appending after
them. What identifies the person goes (message text, entities, metadata, the bot's replies that
may repeat it, personal slot values); intents and actions stay, so the anonymous counts do too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    exc,
    func,
    or_,
    select,
    update,
)

logger = logging.getLogger(__name__)

# Slots whose values identify the customer.
PERSONAL_SLOTS = frozenset({"name", "phone", "email", "trade_in_vehicle"})
# Entities that identify the customer.
PERSONAL_ENTITIES = frozenset({"phone", "person_name", "email"})
REDACTED = "[erased]"
REMOVED = "[removed]"

_events = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("data", Text),
)


def redact_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event without what identifies the customer."""
    kind = event.get("event")
    if kind == "user":
        event["text"] = REDACTED
        event["metadata"] = {}
        parse = event.get("parse_data")
        if isinstance(parse, dict):
            parse["text"] = REDACTED
            parse["entities"] = []
            parse.pop("metadata", None)
    elif kind == "bot":
        event["text"] = REDACTED
        event["data"] = {}
        event["metadata"] = {}
    elif kind == "slot" and event.get("name") in PERSONAL_SLOTS:
        event["value"] = None
    return event


def volunteered(events: list[dict[str, Any]]) -> set[str]:
    """Names, numbers and addresses the customer typed, as typed and as understood."""
    found: set[str] = set()
    for event in events:
        if event.get("event") == "user":
            text = event.get("text") or ""
            parse = event.get("parse_data") if isinstance(event.get("parse_data"), dict) else {}
            for entity in (parse or {}).get("entities") or []:
                if entity.get("entity") not in PERSONAL_ENTITIES:
                    continue
                start, end = entity.get("start"), entity.get("end")
                if isinstance(start, int) and isinstance(end, int) and 0 <= start < end:
                    found.add(text[start:end])
                if isinstance(entity.get("value"), str):
                    found.add(entity["value"])
        elif (
            event.get("event") == "slot"
            and event.get("name") in PERSONAL_SLOTS
            and isinstance(event.get("value"), str)
        ):
            found.add(event["value"])
    return {f for f in found if f.strip()}


def remove_volunteered(event: dict[str, Any], found: set[str]) -> dict[str, Any]:
    """The event with ``found`` cut out of its text, personal entities and slot values."""

    def cut(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        for value in sorted(found, key=len, reverse=True):
            text = text.replace(value, REMOVED)
        return text

    kind = event.get("event")
    if kind in ("user", "bot"):
        event["text"] = cut(event.get("text"))
    if kind == "user" and isinstance(event.get("parse_data"), dict):
        parse = event["parse_data"]
        parse["text"] = cut(parse.get("text"))
        parse["entities"] = [
            e for e in parse.get("entities") or [] if e.get("entity") not in PERSONAL_ENTITIES
        ]
    if kind == "slot" and event.get("name") in PERSONAL_SLOTS:
        event["value"] = None
    return event


class Transcripts:
    """Rasa's tracker store, as far as erasure needs it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def rows_mentioning(self, texts: Iterable[str]) -> int:
        """How many stored events (messages, slots, replies) contain any of ``texts``."""
        where = or_(*(_events.c.data.contains(t, autoescape=True) for t in texts))
        try:
            with self.engine.connect() as connection:
                return (
                    connection.scalar(select(func.count()).select_from(_events).where(where)) or 0
                )
        except (exc.OperationalError, exc.ProgrammingError) as error:
            if "no such table" in str(error) or "does not exist" in str(error):
                return 0  # Rasa has not stored a conversation yet
            raise

    def redact_volunteered(self, sender_id: str) -> int:
        """Cut what the customer volunteered (name, number, e-mail) out of the conversation's
        stored events, e.g. when they decline consent; returns how many rows changed."""
        changed = 0
        try:
            with self.engine.begin() as connection:
                rows = connection.execute(
                    select(_events.c.id, _events.c.data)
                    .where(
                        _events.c.sender_id == sender_id,
                        _events.c.type_name.in_(("user", "bot", "slot")),
                    )
                    .order_by(_events.c.id)
                ).all()
                events = [(row_id, json.loads(data)) for row_id, data in rows]
                found = volunteered([event for _, event in events])
                if not found:
                    return 0
                for row_id, event in events:
                    before = json.dumps(event, ensure_ascii=False)
                    after = json.dumps(remove_volunteered(event, found), ensure_ascii=False)
                    if after != before:
                        connection.execute(
                            update(_events).where(_events.c.id == row_id).values(data=after)
                        )
                        changed += 1
        except (exc.NoSuchTableError, exc.OperationalError, exc.ProgrammingError) as error:
            if "no such table" in str(error) or "does not exist" in str(error):
                return 0
            raise
        logger.info("removed volunteered details from a transcript: %d events", changed)
        return changed

    def redact(self, sender_ids: Iterable[str]) -> int:
        """Redact every stored event of these conversations; returns how many rows changed."""
        senders = sorted(set(sender_ids))
        if not senders:
            return 0
        changed = 0
        try:
            with self.engine.begin() as connection:
                rows = connection.execute(
                    select(_events.c.id, _events.c.data).where(
                        _events.c.sender_id.in_(senders),
                        _events.c.type_name.in_(("user", "bot", "slot")),
                    )
                ).all()
                for row_id, data in rows:
                    event = json.loads(data)
                    redacted = json.dumps(redact_event(json.loads(data)), ensure_ascii=False)
                    if redacted != json.dumps(event, ensure_ascii=False):
                        connection.execute(
                            update(_events).where(_events.c.id == row_id).values(data=redacted)
                        )
                        changed += 1
        except exc.NoSuchTableError:
            return 0
        except exc.OperationalError as error:
            if "no such table" in str(error):
                return 0
            raise
        logger.info("erased transcripts of %d conversation(s), %d events", len(senders), changed)
        return changed
