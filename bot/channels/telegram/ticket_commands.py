"""Complaint tickets on Telegram: the managers' alert card and ``/ticket``.

``/ticket`` (or ``/tickets``) lists the tickets not resolved, ``/ticket <id>`` shows one with its
steps, ``/ticket <id> progress [note]`` takes it, ``/ticket <id> resolve [cause] <note>`` closes
it with the cause and what was learned (the note is required: it is how the dealership learns).
Managers act on every ticket; a consultant sees and acts on the tickets of leads they own (their
own customers), and any other id is answered as not found. Registered for staff only.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from telegram import Update
from telegram.ext import ContextTypes

from bot.channels.telegram import cards
from bot.channels.telegram.runtime import Telegram
from bot.channels.telegram.staff_commands import _id, _lines, _reply, _usage, staff_command
from crm_bridge import tickets
from crm_bridge.models import TICKET_CAUSES, Staff
from crm_bridge.tickets import TicketError, TicketView

# The command and its plural, both list the open tickets.
COMMANDS: Final = ("ticket", "tickets")
# Free text on a card is cut to this (a card stays within Telegram's 4,096 characters).
SHOWN_CHARS: Final = 500

WORDS: Final = {
    "zh": {
        "title": "投诉", "survey": "回访低分", "conversation": "对话中投诉", "staff": "员工登记",
        "open": "待处理", "in_progress": "处理中", "resolved": "已解决", "state": "状态",
        "channel": "渠道", "lead": "线索", "customer": "客户", "none": "暂无", "answers": "评分",
        "words": "客户原话", "last": "最近对话", "said_customer": "客户", "said_assistant": "助手",
        "steps": "经过", "resolution": "结论", "cause": "原因",
        "act": "处理：/ticket {id} progress <备注>\n解决：/ticket {id} resolve [原因] <原因和改进>",
        "causes": "原因可选：{causes}",
        "escalated": "⚠️ 已超过 {hours} 小时无人处理（第 {n} 次升级）",
        "moved": "✅ 投诉 #{id}：{state}", "unknown": "找不到投诉 #{id}。",
        "bad_state": "投诉 #{id} 当前为「{state}」，不能这样处理。",
        "note": "解决投诉需要写明原因和改进：/ticket {id} resolve [原因] <说明>",
    },
    "en": {
        "title": "Complaint", "survey": "low survey score", "conversation": "complaint in chat",
        "staff": "recorded by staff", "open": "open", "in_progress": "in progress",
        "resolved": "resolved", "state": "State", "channel": "Channel", "lead": "Lead",
        "customer": "Customer", "none": "none", "answers": "Scores", "words": "In their words",
        "last": "Last messages", "said_customer": "Customer", "said_assistant": "Assistant",
        "steps": "Steps", "resolution": "Resolution", "cause": "Cause",
        "act": "Take it: /ticket {id} progress <note>\n"
        "Resolve: /ticket {id} resolve [cause] <cause and what was learned>",
        "causes": "Causes: {causes}",
        "escalated": "⚠️ Nobody has taken it for {hours} hours (escalation {n})",
        "moved": "✅ Complaint #{id}: {state}", "unknown": "Not found: complaint #{id}.",
        "bad_state": "Complaint #{id} is {state}: it can't move that way.",
        "note": "Resolving needs the cause and what was learned: /ticket {id} resolve [cause] "
        "<note>",
    },
}  # fmt: skip


def t(key: str, language: str | None, **values: object) -> str:
    text = WORDS["en" if language == "en" else "zh"][key]
    return text.format(**values) if values else text


def _cut(text: str, limit: int = SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _answers(answers: dict[str, object]) -> str:
    """``consultant 1 · delivery 4 · recommend 3 · comment “…”`` (escaped)."""
    return " · ".join(
        f"{cards.e(key)} <b>{cards.e(value)}</b>"
        if not isinstance(value, str)
        else f"{cards.e(key)} “{cards.e(_cut(value))}”"
        for key, value in answers.items()
    )


def card_text(
    found: TicketView,
    language: str | None,
    zone: ZoneInfo,
    *,
    escalation: tuple[int, int] | None = None,
    steps: bool = False,
) -> str:
    """The ticket for the managers (alert, escalation: ``(hours, n)``, or ``/ticket <id>`` with its
    steps); every customer value escaped for Telegram HTML."""
    title = f"{t('title', language)} #{found.id} · {t(found.source, language)}"
    lines = [f"<b>🚨 {cards.e(title)}</b>"]
    if escalation is not None:
        lines.append(cards.e(t("escalated", language, hours=escalation[0], n=escalation[1])))
    state = f"{t('state', language)}: <b>{cards.e(t(found.state, language))}</b>"
    state += f"  {t('channel', language)}: {cards.e(found.channel or '—')}"
    if found.lead_id is not None:
        state += f"  {t('lead', language)} #{found.lead_id}"
    lines.append(f"{state}  {cards.local(found.opened_at, zone)}")
    contact = " ".join(x for x in (found.customer, found.phone) if x) or t("none", language)
    lines.append(f"{t('customer', language)}: {cards.e(contact)}")
    if found.answers:
        lines.append(f"{t('answers', language)}: {_answers(found.answers)}")
    if found.summary:
        lines.append(f"{t('words', language)}: <i>{cards.e(_cut(found.summary))}</i>")
    if found.excerpt:
        lines.append(f"\n<b>{t('last', language)}</b>")
        for turn in found.excerpt:
            who = "said_customer" if turn.get("who") == "customer" else "said_assistant"
            lines.append(f"<i>{t(who, language)}</i>: {cards.e(turn.get('text', ''))}")
    if steps:
        lines.append(f"\n<b>{t('steps', language)}</b>")
        for event in found.events:
            note = f": {cards.e(_cut(event.note, 200))}" if event.note else ""
            lines.append(
                f"{cards.local(event.at, zone)} {cards.e(event.kind)} "
                f"{cards.e(event.actor or '')}{note}"
            )
    if found.resolution:
        cause = f" ({cards.e(found.cause)})" if found.cause else ""
        lines.append(f"\n<b>{t('resolution', language)}</b>{cause}: {cards.e(found.resolution)}")
    elif found.state != "resolved":
        lines.append("\n" + cards.e(t("act", language, id=found.id)))
    return "\n".join(lines)[:4000]


def list_line(found: TicketView, language: str | None, zone: ZoneInfo) -> str:
    """One ticket in ``/ticket``: ``#12 待处理 回访低分 张三 12-02 10:00 ⚠️2``."""
    escalated = f" ⚠️{found.escalations}" if found.escalations else ""
    return (
        f"#{found.id} {t(found.state, language)} {t(found.source, language)} "
        f"{found.customer or '—'} {cards.local(found.opened_at, zone)}{escalated}"
    )


def _visible(session: Session, who: Staff, ticket_id: int) -> TicketView:
    """The ticket if this staff member may see and act on it (else the answer of a missing one)."""
    found = tickets.view(session, tickets.get(session, ticket_id))
    if not tickets.may_act(found, who.id, who.role):
        raise TicketError("unknown", ticket_id)
    return found


def _move(
    session: Session,
    who: Staff,
    ticket_id: int,
    to_state: str,
    note: str | None,
    cause: str | None,
    now: datetime,
) -> None:
    _visible(session, who, ticket_id)
    tickets.move(
        session, ticket_id, to_state, now=now, actor=who.name, staff_id=who.id, note=note,
        cause=cause,
    )  # fmt: skip


def _note(update: Update, skip: int) -> str:
    """The message text after its first ``skip`` words, line breaks kept."""
    message = update.effective_message
    parts = (message.text or "").split(maxsplit=skip) if message is not None else []
    return parts[skip].strip() if len(parts) > skip else ""


async def command_ticket(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ticket [<id> [progress [note] | resolve [cause] <note>]]: complaint tickets."""
    await _ticket(update, context)


@staff_command
async def _ticket(update: Update, telegram: Telegram, who: Staff, args: list[str]) -> None:
    """/ticket for the staff member who sent it."""
    zone, language = telegram.settings.timezone, who.language
    if not args:

        def listing(session: Session) -> list[str]:
            views = [tickets.view(session, found) for found in tickets.listing(session)]
            return [
                list_line(v, language, zone) for v in views if tickets.may_act(v, who.id, who.role)
            ][:30]

        await _lines(update, who, await telegram.db(listing))
        return
    ticket_id = _id(args)
    verb = args[1].lower() if len(args) > 1 else None
    if ticket_id is None or verb not in (None, "progress", "resolve"):
        await _usage(update, who, "ticket")
        return
    try:
        if verb is None:
            found = await telegram.db(partial(_visible, who=who, ticket_id=ticket_id))
            await _reply(update, card_text(found, language, zone, steps=True))
            return
        note, cause = _note(update, 3), None
        first = note.split(maxsplit=1)
        if verb == "resolve" and first and first[0].lower() in TICKET_CAUSES:
            cause, note = first[0].lower(), first[1] if len(first) > 1 else ""
        to_state = "in_progress" if verb == "progress" else "resolved"
        now = telegram.clock()
        await telegram.db(
            partial(_move, who=who, ticket_id=ticket_id, to_state=to_state, note=note,
                    cause=cause, now=now)
        )  # fmt: skip
    except TicketError as error:
        await _refused(update, who, error, ticket_id)
        return
    state = t("in_progress" if verb == "progress" else "resolved", language)
    await _reply(update, cards.e(t("moved", language, id=ticket_id, state=state)))


async def _refused(update: Update, who: Staff, error: TicketError, ticket_id: int) -> None:
    """Why the step was not taken, in the staff member's language."""
    language = who.language
    if error.reason == "state":
        state = t(error.state or "resolved", language)
        text = t("bad_state", language, id=ticket_id, state=state)
    elif error.reason == "note":
        text = t("note", language, id=ticket_id)
    elif error.reason == "cause":
        text = t("causes", language, causes=", ".join(TICKET_CAUSES))
    else:
        text = t("unknown", language, id=ticket_id)
    await _reply(update, cards.e(text))
