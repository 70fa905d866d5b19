"""Personal survey links for customers who never chatted: a Telegram deep link
(``https://t.me/<bot>?start=survey-<token>``) and a web link to the gateway's page
(``<gateway>/?survey=<token>``), sent by the dealership with its own SMS or WeChat tools.

The token is an HMAC of the survey id under a key generated once into ``var/`` (so printing the
links again gives the same links, and nobody can make one without the key); only its SHA-256 is
stored, to find the survey. A token works once (``token_used_at``) and until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm_bridge.models import Customer, Survey

PREFIX: Final = "survey-"
# Telegram's start parameter: up to 64 of A-Z, a-z, 0-9, _ and -.
TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{22}$")


def token_for(key: bytes, survey_id: int) -> str:
    digest = hmac.new(key, f"survey:{survey_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    survey_id: int
    kind: str
    stage: str | None
    customer: str | None
    phone: str | None
    scheduled_for: datetime
    expires_at: datetime
    token: str

    def telegram(self, bot_username: str | None) -> str | None:
        if not bot_username:
            return None
        return f"https://t.me/{bot_username}?start={PREFIX}{self.token}"

    def web(self, gateway_url: str) -> str:
        return f"{gateway_url.rstrip('/')}/?survey={self.token}"


def issue(session: Session, key: bytes, now: datetime, valid: timedelta) -> list[Link]:
    """Links for every survey not sent, not finished, not closed and not bound to a
    conversation (the scheduler sends those there); its token stored hashed, the expiry set the
    first time and kept. A link opened later in another conversation moves the survey there."""
    surveys = session.scalars(
        select(Survey)
        .where(
            Survey.sent_at.is_(None),  # one sent in a conversation is answered there
            Survey.sender_id.is_(None),
            Survey.completed_at.is_(None),
            Survey.closed_at.is_(None),
            Survey.token_used_at.is_(None),
        )
        .order_by(Survey.scheduled_for, Survey.id)
    ).all()
    links = []
    for survey in surveys:
        token = token_for(key, survey.id)
        survey.token_hash = token_hash(token)
        if survey.token_expires_at is None:
            survey.token_expires_at = max(now, survey.scheduled_for) + valid
        customer = session.get(Customer, survey.customer_id) if survey.customer_id else None
        links.append(
            Link(
                survey_id=survey.id,
                kind=survey.kind,
                stage=survey.stage,
                customer=customer.name if customer else None,
                phone=customer.phone if customer else None,
                scheduled_for=survey.scheduled_for,
                expires_at=survey.token_expires_at,
                token=token,
            )
        )
    session.flush()
    return links


class LinkRefused(Exception):
    """The token is unknown, used, expired, or its survey is finished: ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def redeem(
    session: Session,
    token: str,
    *,
    sender_id: str,
    channel: str | None,
    language: str | None,
    now: datetime,
) -> Survey:
    """Open the survey of a link in this conversation, once (a conditional update decides)."""
    if not TOKEN.fullmatch(token):
        raise LinkRefused("unknown")
    survey = session.scalars(select(Survey).where(Survey.token_hash == token_hash(token))).first()
    if survey is None:
        raise LinkRefused("unknown")
    if survey.completed_at is not None or survey.closed_at is not None:
        raise LinkRefused("finished")
    if survey.token_expires_at is not None and survey.token_expires_at <= now:
        raise LinkRefused("expired")
    used = session.execute(
        update(Survey)
        .where(Survey.id == survey.id, Survey.token_used_at.is_(None))
        .values(
            token_used_at=now,
            sent_at=func.coalesce(Survey.sent_at, now),  # opened: the scheduler won't send it
            sender_id=sender_id,
            channel=channel or survey.channel,
            language=language or survey.language,
        )
    )
    if getattr(used, "rowcount", 0) != 1:
        raise LinkRefused("used")
    session.refresh(survey)
    return survey
