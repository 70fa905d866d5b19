"""Lead cards and staff messages: what the sales team reads, every customer value escaped for
Telegram's HTML mode, in the staff member's language."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from crm_bridge.leads import questions_of
from crm_bridge.models import Customer, Handoff, Lead, RelayMessage, Staff

REASONS: Final = {
    "zh": {"person": "客户要求人工", "price": "议价", "complaint": "投诉",
           "hot_lead": "高意向线索"},
    "en": {"person": "asked for a person", "price": "price negotiation", "complaint": "complaint",
           "hot_lead": "hot lead"},
}  # fmt: skip
LABELS: Final = {
    "zh": {"lead": "线索", "conversation": "会话", "needs": "需求", "level": "级别",
           "contact": "联系方式", "last": "最近对话", "customer": "客户", "assistant": "助手",
           "claim": "我来接待", "claimed_by": "已由 {name} 接待", "none": "暂无",
           "channel": "渠道", "escalated": "⚠️ 超时未认领", "relayed": "接待中的对话",
           "consultant": "顾问", "callback": "📞 请回电"},
    "en": {"lead": "Lead", "conversation": "Conversation", "needs": "Needs", "level": "Level",
           "contact": "Contact", "last": "Last messages", "customer": "Customer",
           "assistant": "Assistant", "claim": "Claim", "claimed_by": "Claimed by {name}",
           "none": "none yet", "channel": "Channel", "escalated": "⚠️ Not claimed in time",
           "relayed": "Since the hand-off", "consultant": "Consultant",
           "callback": "📞 Call back"},
}  # fmt: skip


def e(value: object) -> str:
    """Escaped for Telegram HTML."""
    return html.escape(str(value), quote=False)


def words(language: str | None) -> dict[str, str]:
    return LABELS["en" if language == "en" else "zh"]


@dataclass(frozen=True)
class CardData:
    """What a card shows, read in one transaction."""

    handoff_id: int
    lead_id: int | None
    reason: str
    channel: str | None
    name: str | None
    phone: str | None
    level: str | None
    needs: list[str]
    excerpt: list[dict[str, str]]
    owner: str | None
    escalated: bool


def card_data(session: Session, handoff: Handoff) -> CardData:
    lead = session.get(Lead, handoff.lead_id) if handoff.lead_id else None
    customer = session.get(Customer, lead.customer_id) if lead and lead.customer_id else None
    needs: list[str] = []
    if lead is not None:
        if lead.model_interest:
            needs.append(" / ".join(lead.model_interest))
        if lead.budget_cny_max:
            needs.append(f"≤ ¥{lead.budget_cny_max:,}")
        if lead.purchase_timeline_days is not None:
            needs.append(f"{lead.purchase_timeline_days}d")
        if lead.payment:
            needs.append(lead.payment)
        if lead.trade_in:
            needs.append(f"trade-in {lead.trade_in_vehicle or ''}".strip())
        needs += questions_of(session, [lead.id]).get(lead.id, [])
    owner = session.get(Staff, handoff.owner_id) if handoff.owner_id else None
    return CardData(
        handoff_id=handoff.id,
        lead_id=lead.id if lead else None,
        reason=handoff.reason,
        channel=handoff.channel,
        name=customer.name if customer else None,
        phone=(customer.phone if customer else None) or caller_number(handoff),
        level=lead.level if lead else None,
        needs=needs,
        excerpt=list(handoff.excerpt or []),
        owner=owner.name if owner else None,
        escalated=handoff.escalated_at is not None,
    )


def caller_number(handoff: Handoff) -> str | None:
    """A caller's number (their phone conversation, ``phone:+86…``): the consultant calls back."""
    sender = handoff.sender_id or ""
    return sender.removeprefix("phone:") if sender.startswith("phone:+") else None


def tag(data: CardData, language: str | None) -> str:
    """ "Lead #12" or "Conversation c7" (no lead recorded: no consent yet)."""
    w = words(language)
    if data.lead_id is not None:
        return f"{w['lead']} #{data.lead_id}"
    return f"{w['conversation']} c{data.handoff_id}"


def card_text(data: CardData, language: str | None) -> str:
    w = words(language)
    reasons = REASONS["en" if language == "en" else "zh"]
    lines = [f"<b>🔔 {e(tag(data, language))} · {e(reasons.get(data.reason, data.reason))}</b>"]
    if data.escalated and data.owner is None:
        lines.append(w["escalated"])
    lines.append(
        f"{w['level']}: <b>{e(data.level or '—')}</b>  {w['channel']}: {e(data.channel or '—')}"
    )
    contact = " ".join(x for x in (data.name, data.phone) if x) or w["none"]
    label = w["callback"] if data.channel == "phone" and data.phone else w["contact"]
    lines.append(f"{label}: {e(contact)}")
    lines.append(f"{w['needs']}: {e('; '.join(data.needs) or w['none'])}")
    if data.excerpt:
        lines.append(f"\n<b>{w['last']}</b>")
        for turn in data.excerpt:
            who = w["customer"] if turn.get("who") == "customer" else w["assistant"]
            lines.append(f"<i>{who}</i>: {e(turn.get('text', ''))}")
    if data.owner:
        lines.append("\n✅ " + e(w["claimed_by"].format(name=data.owner)))
    return "\n".join(lines)[:4000]


def relayed_text(session: Session, handoff: Handoff, language: str | None, last: int = 12) -> str:
    """The messages relayed since the hand-off, oldest first (the live part of the transcript)."""
    rows = list(
        session.scalars(
            select(RelayMessage)
            .where(RelayMessage.handoff_id == handoff.id)
            .order_by(RelayMessage.id.desc())
            .limit(last)
        )
    )
    if not rows:
        return ""
    w = words(language)
    lines = [f"\n\n<b>{w['relayed']}</b>"]
    for row in reversed(rows):
        who = w["customer"] if row.direction == "to_consultant" else w["consultant"]
        lines.append(f"<i>{who}</i>: {e(row.body or row.kind)}")
    return "\n".join(lines)


def claim_keyboard(handoff_id: int, language: str | None) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    f"🙋 {words(language)['claim']}", callback_data=f"claim:{handoff_id}"
                )
            ]
        ]
    )


def local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%m-%d %H:%M") if moment else "—"
