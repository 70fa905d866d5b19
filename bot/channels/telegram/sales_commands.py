"""Staff commands that record the sales process and follow it up: ``/status`` (the outcome of a
contact, which dates the next follow-up), ``/testdrive`` and ``/followups``; and the follow-up
card the reminder job sends. The shared helpers are ``staff_commands``'."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from telegram import Update

from bot.channels.telegram import cards
from bot.channels.telegram.runtime import Telegram
from bot.channels.telegram.staff_chat import staff_row
from bot.channels.telegram.staff_commands import _id, _lines, _reply, _tell, _usage, staff_command
from crm_bridge import bookings, follow_ups, sales
from crm_bridge.models import Booking, Customer, Handoff, Lead, Staff

NOTES: Final = {
    "zh": {"saved": "已记录。", "next": "已记录。下次跟进：{day}", "reminder": "跟进提醒",
           "overdue": "⚠️ 跟进逾期", "due": "应跟进：{day}", "owner": "负责人：{name}",
           "nobody": "无人负责，请指派：/reassign {id} <顾问>",
           "how": "联系客户后记录结果：/status {id} contacted（或 visited、won、lost），"
                  "级别有变时加上级别，例如 /status {id} contacted level {level}",
           "late": "逾期"},
    "en": {"saved": "Recorded.", "next": "Recorded. Next follow-up: {day}",
           "reminder": "follow-up due", "overdue": "⚠️ Follow-up overdue", "due": "Due: {day}",
           "owner": "Owner: {name}", "nobody": "Nobody owns it: /reassign {id} <consultant>",
           "how": "After contacting the customer, record it: /status {id} contacted (or visited, "
                  "won, lost), with the level when it changed, e.g. "
                  "/status {id} contacted level {level}",
           "late": "overdue"},
}  # fmt: skip
# Telegram's limit of a message's text.
MESSAGE_LIMIT: Final = 4096
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def note(key: str, language: str | None, **values: object) -> str:
    text = NOTES["en" if language == "en" else "zh"][key]
    return text.format(**values) if values else text


def due_day(moment: datetime, zone: ZoneInfo, language: str | None) -> str:
    """A follow-up's day in the dealer's zone: "12月3日", "3 Dec"."""
    local = moment.astimezone(zone)
    if language == "en":
        return f"{local.day} {MONTHS[local.month - 1]}"  # not %b, which follows the locale
    return f"{local.month}月{local.day}日"


def follow_up_card(
    session: Session,
    lead: Lead,
    language: str | None,
    zone: ZoneInfo,
    owner: Staff | None = None,
    escalation: bool = False,
) -> str:
    """The lead card of a follow-up, in Telegram HTML (customer values escaped by ``cards``):
    the owner's reminder with how to record the outcome, or the managers' overdue notice with
    who owns it."""
    conversation = sales.conversation_of(session, lead)
    # A lead that never had a hand-off is shown through the same card, as an unsaved view.
    view = conversation or Handoff(lead_id=lead.id, reason="", channel=lead.channel)
    heading = note("overdue" if escalation else "reminder", language)
    data = replace(cards.card_data(session, view), reason=heading, owner=None, escalated=False)
    extra = []
    if lead.next_follow_up_at is not None:
        day = due_day(lead.next_follow_up_at, zone, language)
        extra.append(note("due", language, day=day))
    if escalation:
        extra.append(
            note("owner", language, name=owner.name)
            if owner
            else note("nobody", language, id=lead.id)
        )
    else:
        extra.append(note("how", language, id=lead.id, level=lead.level or "C"))
    tail = cards.e("\n".join(extra))
    card = cards.card_text(data, language)
    if len(card) + len(tail) >= MESSAGE_LIMIT:  # the last messages give way, never the markup
        card = cards.card_text(replace(data, excerpt=[]), language)
    return f"{card}\n{tail}"


@staff_command
async def command_status(update: Update, telegram: Telegram, who: Staff, args: list[str]) -> None:
    """/status <id> contacted|visited|won|lost [level H|A|B|C]: and when to follow up next."""
    lead_id = _id(args)
    level = args[3].upper() if len(args) == 4 and args[2].lower() == "level" else None
    outcome = args[1].lower() if len(args) >= 2 else ""
    shape = len(args) == 2 or (len(args) == 4 and level is not None)
    if lead_id is None or not shape or outcome not in sales.OUTCOMES:
        await _usage(update, who, "status")
        return
    now, settings = telegram.clock(), telegram.settings
    cadence = follow_ups.Cadence.of(settings)
    try:
        due = await telegram.db(
            lambda s: (
                sales.set_status(
                    s, staff_row(s, who.id), lead_id, outcome, level, now, cadence
                ).next_follow_up_at
            )
        )
    except sales.SalesError as error:
        await _tell(update, who, "unknown", what=str(error))
        return
    if due is None:
        await _reply(update, cards.e(note("saved", who.language)))
    else:
        day = due_day(due, settings.timezone, who.language)
        await _reply(update, cards.e(note("next", who.language, day=day)))


@staff_command
async def command_testdrive(
    update: Update, telegram: Telegram, who: Staff, args: list[str]
) -> None:
    """/testdrive <booking id> completed|no_show."""
    booking_id = _id(args)
    if booking_id is None or len(args) != 2 or args[1] not in ("completed", "no_show"):
        await _usage(update, who, "testdrive")
        return
    now = telegram.clock()

    def mark(session: Session) -> None:
        booking = session.get(Booking, booking_id)
        if booking is None or (
            who.role != "manager" and booking.consultant_id != who.consultant_id
        ):
            raise bookings.BookingError(f"#{booking_id}")
        bookings.mark_outcome(session, booking_id, args[1], now=now, source=f"telegram:{who.id}")

    try:
        await telegram.db(mark)
    except bookings.BookingError as error:
        await _tell(update, who, "unknown", what=str(error))
        return
    await _tell(update, who, "saved")


@staff_command
async def command_followups(
    update: Update, telegram: Telegram, who: Staff, args: list[str]
) -> None:
    """/followups: follow-ups due by the end of today (a consultant's own; a manager's all),
    the oldest first."""
    zone = telegram.settings.timezone
    today = telegram.clock().astimezone(zone).date()
    until = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=zone)

    def listing(session: Session) -> list[str]:
        rows = []
        for lead in follow_ups.due_for(session, staff_row(session, who.id), until):
            assert lead.next_follow_up_at is not None
            customer = session.get(Customer, lead.customer_id) if lead.customer_id else None
            day = due_day(lead.next_follow_up_at, zone, who.language)
            if lead.next_follow_up_at.astimezone(zone).date() < today:
                day += " " + note("late", who.language)
            name = (customer.name if customer else None) or "—"
            rows.append(f"#{lead.id} {lead.level or 'C'} {day} {name} "
                        f"{'/'.join(lead.model_interest) or '—'}")  # fmt: skip
        return rows

    await _lines(update, who, await telegram.db(listing))
