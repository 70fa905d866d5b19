"""Writes that survive the dealership database being down.

Every write a conversation makes (conversation bookkeeping, the lead, opt-out, erasure) goes through
``Outbox.submit``. If the database answers, the write happens at once in its own transaction. If it
cannot be reached, the write is appended to a local SQLite file (fsync'd on commit) and replayed,
in order, by ``drain`` once the database is back. While anything is queued, new writes queue behind
it, so a lead never sees its changes out of order.

A write that fails for another reason than an unreachable database (a bug, a constraint) is not
retried forever: it is kept in the file as failed, with the error, for someone to look at.

An erasure reaches the file too: the kept writes (waiting or failed) of the erased conversations
and numbers lose their personal fields at once, and what the erasure returns is handed to the
``after`` hook (the transcripts) when it is written, now or on replay. Erasing twice is harmless,
so a hook that cannot reach its store keeps the erasure queued.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exc
from sqlalchemy.orm import Session

from crm_bridge import conversations, handoff, leads, privacy
from crm_bridge.db import SessionFactory, transaction

logger = logging.getLogger(__name__)

Operation = Callable[[Session, dict[str, Any], bytes | None], Any]
Hook = Callable[[Any], object]
# Fields of a kept lead write that identify the customer.
PERSONAL_FIELDS = ("name", "phone", "email", "trade_in_vehicle")


def _at(payload: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(payload["at"])


OPERATIONS: dict[str, Operation] = {
    "conversation.start": lambda s, p, k: conversations.start_conversation(
        s, p["sender_id"], _at(p), p.get("channel")
    ),
    "conversation.message": lambda s, p, k: conversations.record_message(
        s, p["sender_id"], _at(p), channel=p.get("channel"), language=p.get("language")
    ),
    "lead.record": lambda s, p, k: leads.record_lead(
        s, p["sender_id"], leads.LeadUpdate(**p["update"]), p["source"], _at(p), k
    ),
    "handoff.open": lambda s, p, k: handoff.request(
        s,
        sender_id=p["sender_id"],
        reason=p["reason"],
        at=_at(p),
        zone=p["zone"],
        claim_minutes=p["claim_minutes"],
        channel=p.get("channel"),
        language=p.get("language"),
        excerpt=p.get("excerpt"),
    ),
    "privacy.opt_out": lambda s, p, k: privacy.opt_out(s, p["sender_id"], _at(p)),
    "privacy.erase": lambda s, p, k: privacy.erase(s, p["sender_id"], _at(p), k),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL,
    payload TEXT NOT NULL,
    queued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    failed_error TEXT
)
"""


def lead_payload(
    sender_id: str, update: leads.LeadUpdate, source: str, at: datetime
) -> dict[str, Any]:
    """The payload of a "lead.record" write."""
    return {
        "sender_id": sender_id,
        "update": asdict(update),
        "source": source,
        "at": at.isoformat(),
    }


def unreachable(error: BaseException) -> bool:
    """Whether ``error`` means the database could not be reached (worth retrying later)."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError)


class Outbox:
    """A durable, ordered queue of database writes in front of the dealership database."""

    def __init__(
        self,
        path: Path,
        sessions: SessionFactory,
        erasure_key: bytes | None = None,
        after: dict[str, Hook] | None = None,
    ) -> None:
        self.path = path
        self.sessions = sessions
        self.erasure_key = erasure_key
        self.after = dict(after or {})
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(_SCHEMA)
        # Whether writes may be waiting (set when one is kept, cleared by a complete drain). While
        # nothing waits, writes go straight to the database without taking the lock; a
        # conversation's own writes are sequential anyway (Rasa locks each conversation).
        self._waiting = self.pending() > 0

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    def submit(self, operation: str, payload: dict[str, Any]) -> Any:
        """Write now if the database is there, else keep the write. Returns the result or None."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        json.dumps(payload)  # refuse what could not be replayed, before anything is written
        if operation == "privacy.erase":
            self.redact({payload["sender_id"]}, set())
        if self._waiting:
            with self._lock:
                if self._waiting and not self._drain_locked():
                    self._enqueue(operation, payload)
                    return None
        try:
            result = self._run(operation, payload)
        except exc.SQLAlchemyError as error:
            if not unreachable(error):
                raise
            logger.warning("database unreachable, %s kept for later", operation)
            with self._lock:
                self._enqueue(operation, payload)
            return None
        return result

    def _run(self, operation: str, payload: dict[str, Any]) -> Any:
        """The write in its own transaction, then what follows it (erasure: the kept writes and
        the hook). Raises SQLAlchemyError as the database or the hook's store does."""
        with transaction(self.sessions) as session:
            result = OPERATIONS[operation](session, payload, self.erasure_key)
        if operation == "privacy.erase" and isinstance(result, dict):
            self.redact(set(result.get("senders", [])), set(result.get("phones", [])))
        hook = self.after.get(operation)
        if hook is not None:
            hook(result)
        return result

    def redact(self, senders: set[str], phones: set[str]) -> int:
        """Kept writes (waiting or failed) of these conversations or numbers lose their personal
        fields. Returns how many changed."""
        changed = 0
        with self._connect() as db:
            rows = db.execute("SELECT id, payload FROM pending").fetchall()
            for row_id, text in rows:
                payload = json.loads(text)
                mine = payload.get("sender_id") in senders or any(p in text for p in phones)
                if not mine:
                    continue
                update = payload.get("update")
                cleaned = dict(payload)
                if isinstance(update, dict):
                    cleaned["update"] = {**update, **dict.fromkeys(PERSONAL_FIELDS)}
                if payload.get("excerpt"):
                    cleaned["excerpt"] = []  # a hand-off's last turns
                if cleaned != payload:
                    payload = cleaned
                    db.execute(
                        "UPDATE pending SET payload = ? WHERE id = ?",
                        (json.dumps(payload, ensure_ascii=False), row_id),
                    )
                    changed += 1
        return changed

    def drain(self) -> bool:
        """Replay kept writes in order. True when nothing is left waiting."""
        with self._lock:
            return self._drain_locked()

    def pending(self) -> int:
        """How many writes wait for the database."""
        with self._connect() as db:
            row = db.execute("SELECT count(*) FROM pending WHERE failed_error IS NULL").fetchone()
        return int(row[0])

    def failed(self) -> list[tuple[int, str, str]]:
        """Writes that failed for another reason than an unreachable database: (id, op, error)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, operation, failed_error FROM pending "
                "WHERE failed_error IS NOT NULL ORDER BY id"
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def _enqueue(self, operation: str, payload: dict[str, Any]) -> None:
        self._waiting = True
        with self._connect() as db:
            db.execute(
                "INSERT INTO pending (operation, payload) VALUES (?, ?)",
                (operation, json.dumps(payload, ensure_ascii=False)),
            )

    def _drain_locked(self) -> bool:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, operation, payload FROM pending WHERE failed_error IS NULL ORDER BY id"
            ).fetchall()
            for row_id, operation, payload in rows:
                try:
                    self._run(operation, json.loads(payload))
                except exc.SQLAlchemyError as error:
                    if unreachable(error):
                        return False
                    logger.error("kept write %s (%s) failed: %s", row_id, operation, type(error))
                    db.execute(
                        "UPDATE pending SET failed_error = ? WHERE id = ?", (str(error), row_id)
                    )
                    continue
                except (KeyError, TypeError, ValueError) as error:
                    logger.error("kept write %s (%s) is malformed: %s", row_id, operation, error)
                    db.execute(
                        "UPDATE pending SET failed_error = ? WHERE id = ?", (repr(error), row_id)
                    )
                    continue
                db.execute("DELETE FROM pending WHERE id = ?", (row_id,))
                logger.info("kept write %s (%s) written", row_id, operation)
        self._waiting = False
        return True
