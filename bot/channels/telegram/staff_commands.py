"""Staff commands in the private chat with the bot, answered in the staff member's Telegram
language. Registered for active staff only (``application.register``); those recording the sales
process (``/status``, ``/testdrive``, ``/followups``) are in ``sales_commands``."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.channels.rasa import RasaUnavailable
from bot.channels.telegram import cards, relay
from bot.channels.telegram.render import send_replies
from bot.channels.telegram.runtime import Telegram, of
from bot.channels.telegram.staff_chat import me, say, staff_row
from crm_bridge import handoff, sales, staff
from crm_bridge.conversations import telegram_chat
from crm_bridge.models import Booking, Customer, Handoff, Lead, Staff
from crm_bridge.surveys.config import cached

logger = logging.getLogger(__name__)

HELP: Final = {
    "zh": [
        ("/leads", "我的未结线索（高意向在前）"),
        ("/lead <线索号>", "线索卡片和最近对话"),
        ("/today", "今天的试驾"),
        ("/status <线索号> contacted|visited|won|lost [level H|A|B|C]", "记录跟进结果"),
        ("/followups", "今天要跟进的线索"),
        ("/delivered <线索号> <车型> [VIN]", "记录交车"),
        ("/testdrive <预约号> completed|no_show", "记录试驾结果"),
        ("/reply <线索号> <内容>", "给客户发消息"),
        ("/done", "结束接待，交还给助手"),
        ("/unclaimed", "（经理）无人认领的线索"),
        ("/reassign <线索号> <顾问>", "（经理）改派线索"),
        ("/report [7d|30d]", "（经理）最近 7 或 30 天的报表图表"),
        ("/ticket [<号> progress|resolve [原因] <说明>]", "投诉工单：列表、详情、处理、解决"),
    ],
    "en": [
        ("/leads", "my open leads, hottest first"),
        ("/lead <id>", "a lead's card and last messages"),
        ("/today", "today's test drives"),
        ("/status <id> contacted|visited|won|lost [level H|A|B|C]", "record a follow-up"),
        ("/followups", "follow-ups due today"),
        ("/delivered <id> <model> [VIN]", "record a delivery"),
        ("/testdrive <booking id> completed|no_show", "record a test drive's outcome"),
        ("/reply <id> <text>", "write to the customer"),
        ("/done", "hand the customer back to the assistant"),
        ("/unclaimed", "(managers) leads nobody claimed"),
        ("/reassign <id> <consultant>", "(managers) give a lead to someone else"),
        ("/report [7d|30d]", "(managers) report charts of the last 7 or 30 days"),
        ("/ticket [<id> progress|resolve [cause] <note>]", "complaints: list, show, take, resolve"),
    ],
}
WORDS: Final = {
    "zh": {"usage": "用法：{usage}", "unknown": "找不到 {what}。", "none": "暂无。",
           "saved": "已记录。", "managers": "此命令仅供经理使用。", "back": "已交还给助手。",
           "delivered": "已记录交车 #{id}，线索已成交，回访已自动排期。"},
    "en": {"usage": "Usage: {usage}", "unknown": "Not found: {what}.", "none": "Nothing yet.",
           "saved": "Recorded.", "managers": "This command is for managers.",
           "back": "Handed back to the assistant.", "delivered": "Delivery #{id} recorded; the "
           "lead is won and its revisit surveys are scheduled."},
}  # fmt: skip
USAGE: Final = {name.split()[0][1:]: name for name, _ in HELP["en"]}


def w(key: str, language: str | None, **values: object) -> str:
    text = WORDS["en" if language == "en" else "zh"][key]
    return text.format(**values) if values else text


async def _reply(update: Update, text: str) -> None:
    """Answer in the staff member's chat (HTML: values in ``text`` are escaped by the caller)."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML)


async def _tell(update: Update, who: Staff, key: str, **values: object) -> None:
    """One of the commands' own sentences, in the staff member's language, escaped."""
    await _reply(update, cards.e(w(key, who.language, **values)))


async def _usage(update: Update, who: Staff, command: str) -> None:
    await _tell(update, who, "usage", usage=USAGE[command])


async def _lines(update: Update, who: Staff, rows: list[str]) -> None:
    """A list, one row a line, or "nothing yet"."""
    if rows:
        await _reply(update, cards.e("\n".join(rows)))
    else:
        await _tell(update, who, "none")


StaffCommand = Callable[[Update, Telegram, Staff, list[str]], Awaitable[None]]


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def staff_command(command: StaffCommand) -> Handler:
    """The handler of a staff command: it runs with the staff member who sent it (registered for
    staff only; a member removed meanwhile gets nothing)."""

    @functools.wraps(command)
    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        telegram = of(context)
        who = await me(telegram, update)
        if who is not None:
            await command(update, telegram, who, list(context.args or []))

    return handler


def _id(args: list[str], position: int = 0) -> int | None:
    try:
        return int(args[position].lstrip("#"))
    except (IndexError, ValueError):
        return None


@staff_command
async def command_help(update: Update, telegram: Telegram, who: Staff, args: list[str]) -> None:
    """/help: every command with one line."""
    lines = HELP["en" if who.language == "en" else "zh"]
    await _reply(update, "\n".join(f"{cards.e(c)} — {cards.e(d)}" for c, d in lines))


@staff_command
async def command_leads(update: Update, telegram: Telegram, who: Staff, args: list[str]) -> None:
    """/leads: my open leads, hottest first."""

    def listing(session: Session) -> list[str]:
        rows = []
        for lead in sales.open_leads_of(session, staff_row(session, who.id))[:30]:
            customer = session.get(Customer, lead.customer_id) if lead.customer_id else None
            name = (customer.name if customer else None) or "—"
            models = "/".join(lead.model_interest) or "—"
            rows.append(f"#{lead.id} {lead.level or '?'} {lead.status} {name} {models}")
        return rows

    rows = await telegram.db(listing)
    await _lines(update, who, rows)


@staff_command
async def command_lead(update: Update, telegram: Telegram, who: Staff, args: list[str]) -> None:
    """/lead <id>: the card and the last messages."""
    lead_id = _id(args)
    if lead_id is None:
        await _usage(update, who, "lead")
        return

    def show(session: Session) -> str | None:
        try:
            lead = sales.lead_for(session, staff_row(session, who.id), lead_id)
        except sales.SalesError:
            return None
        conversation = sales.conversation_of(session, lead)
        if conversation is None:
            return f"#{lead.id} {lead.level or '?'} {lead.status}"
        card = cards.card_text(cards.card_data(session, conversation), who.language)
        return card + cards.relayed_text(session, conversation, who.language)

    text = await telegram.db(show)
    await _reply(update, text or cards.e(w("unknown", who.language, what=f"#{lead_id}")))


@staff_command
async def command_today(update: Update, telegram: Telegram, who: Staff, args: list[str]) -> None:
    """/today: today's test drives (a consultant's own; a manager's all)."""
    zone = telegram.settings.timezone
    day = telegram.clock().astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)

    def listing(session: Session) -> list[str]:
        stmt = (
            select(Booking)
            .where(Booking.start >= day, Booking.start < day + timedelta(days=1))
            .order_by(Booking.start)
        )
        if who.role != "manager":
            stmt = stmt.where(Booking.consultant_id == who.consultant_id)
        return [
            f"{b.id} {b.start.astimezone(zone):%H:%M} {b.model_code} {b.status} "
            f"{b.customer_name or '—'} {b.phone or ''}".strip()
            for b in session.scalars(stmt)
        ]

    rows = await telegram.db(listing)
    await _lines(update, who, rows)


@staff_command
async def command_delivered(
    update: Update, telegram: Telegram, who: Staff, args: list[str]
) -> None:
    """/delivered <id> <model> [VIN]: the delivery the revisit surveys start from."""
    lead_id = _id(args)
    if lead_id is None or len(args) < 2:
        await _usage(update, who, "delivered")
        return
    vin = args[-1] if len(args) >= 3 and len(args[-1]) == 17 else None
    model = " ".join(args[1 : len(args) - (1 if vin else 0)])
    now = telegram.clock()
    try:
        delivery_id = await telegram.db(
            lambda s: (
                sales.record_delivery(
                    s,
                    staff_row(s, who.id),
                    lead_id=lead_id,
                    model=model,
                    vin=vin,
                    now=now,
                    surveys=cached(telegram.settings.survey_config_path),
                ).id
            )
        )
    except sales.SalesError as error:
        await _tell(update, who, "unknown", what=str(error))
        return
    await _tell(update, who, "delivered", id=delivery_id)


@staff_command
async def command_reply(update: Update, telegram: Telegram, who: Staff, args: list[str]) -> None:
    """/reply <id> <text>: write to a lead's customer (live relay or not)."""
    lead_id = _id(args)
    message = update.effective_message
    body = (message.text or "").split(maxsplit=2)[2] if message and len(args) >= 2 else ""
    if lead_id is None or not body.strip():
        await _usage(update, who, "reply")
        return

    def target(session: Session) -> relay.Target | None:
        try:
            lead = sales.lead_for(session, staff_row(session, who.id), lead_id)
        except sales.SalesError:
            return None
        conversation = sales.conversation_of(session, lead)
        if conversation is None:
            return None
        return relay.Target(conversation.id, conversation.sender_id, conversation.channel, lead.id)

    found_target = await telegram.db(target)
    if found_target is None:
        await _tell(update, who, "unknown", what=f"#{lead_id}")
        return
    how = await relay.to_customer(telegram, who.id, found_target, kind="text", body=body)
    await _reply(update, cards.e(say(how, who.language, lead=lead_id)))


@staff_command
async def command_done(update: Update, telegram: Telegram, who: Staff, args: list[str]) -> None:
    """/done [id]: hand the customer back to the assistant, which greets them again."""
    lead_id = _id(args)
    now = telegram.clock()

    def close(session: Session) -> tuple[str, str | None] | None:
        me_row = staff_row(session, who.id)
        live = handoff.live_of(session, me_row)
        chosen = [h for h in live if lead_id is None or h.lead_id == lead_id]
        if len(chosen) != 1:
            return None
        handoff.hand_back(session, chosen[0], now, me_row)
        return chosen[0].sender_id, chosen[0].channel

    closed = await telegram.db(close)
    if closed is None:
        await _reply(update, cards.e(say("choose", who.language)))
        return
    await hand_back(telegram, *closed)
    await _tell(update, who, "back")


async def hand_back(telegram: Telegram, sender: str, channel: str | None) -> None:
    """The assistant greets the customer again on their channel."""
    chat = telegram_chat(sender)
    try:
        if chat is not None:
            greeting = await telegram.rasa.execute(sender, "action_hand_back")
            await send_replies(telegram.bot, chat, greeting)
        elif channel == "web":
            await telegram.rasa.execute(sender, "action_hand_back", output_channel="latest")
    except RasaUnavailable:
        logger.warning("the assistant could not greet a handed-back customer")


@staff_command
async def command_unclaimed(
    update: Update, telegram: Telegram, who: Staff, args: list[str]
) -> None:
    """/unclaimed (managers): hand-offs nobody has claimed."""
    if who.role != "manager":
        await _tell(update, who, "managers")
        return
    zone = telegram.settings.timezone

    def listing(session: Session) -> list[str]:
        return [
            f"{cards.tag(cards.card_data(session, h), who.language)} {h.reason} "
            f"{cards.local(h.opened_at, zone)}"
            for h in handoff.waiting(session)
        ]

    rows = await telegram.db(listing)
    await _lines(update, who, rows)


@staff_command
async def command_reassign(update: Update, telegram: Telegram, who: Staff, args: list[str]) -> None:
    """/reassign <id> <consultant> (managers): the lead and its conversation change hands."""
    lead_id = _id(args)
    if who.role != "manager":
        await _tell(update, who, "managers")
        return
    if lead_id is None or len(args) < 2:
        await _usage(update, who, "reassign")
        return
    name = " ".join(args[1:])
    now, minutes = telegram.clock(), telegram.settings.handoff_reply_minutes

    def move(session: Session) -> int | None:
        to = staff.by_name(session, name)
        lead = session.get(Lead, lead_id)
        if to is None or lead is None:
            return None
        conversation = session.scalar(
            select(Handoff).where(Handoff.lead_id == lead.id, Handoff.state != "done")
        )
        if conversation is not None:
            handoff.reassign(session, conversation, to, now, minutes)
        else:
            lead.owner_id = to.id
        return to.telegram_user_id

    to_chat = await telegram.db(move)
    if to_chat is None:
        await _tell(update, who, "unknown", what=f"#{lead_id} / {name}")
        return
    await _tell(update, who, "saved")
    await telegram.bot.send_message(to_chat, f"📌 #{lead_id}: /lead {lead_id}")
