"""``/report [7d|30d]`` for managers: the report charts of the last 7 (default) or 30 dealer's
days, today included, sent as one album whose caption has the headline figures.

The numbers are read in one transaction; the charts are drawn in a worker thread (matplotlib
takes a second or two), so other chats are not held up. Consultants are told it is for managers.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Final

from telegram import InputMediaPhoto, Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import ContextTypes

from bot.channels.telegram import cards
from bot.channels.telegram.runtime import Telegram
from bot.channels.telegram.staff_commands import staff_command, w
from crm_bridge.models import Staff
from crm_bridge.reports import build, metrics
from crm_bridge.reports.metrics import ReportData
from crm_bridge.reports.period import Period
from crm_bridge.surveys.config import cached

logger = logging.getLogger(__name__)

PERIODS: Final = {"7d": 7, "30d": 30}
ALBUM: Final = 10  # photos Telegram takes in one media group
WORDS: Final = {
    "zh": {
        "usage": "用法：/report [7d|30d]（默认 7d，最近 7 天）",
        "failed": "报表生成失败，请稍后再试或用命令行 dealer-assistant report。",
        "caption": "📊 报表 {period}\n新建线索 {leads} · 成交 {won} · 战败 {lost}\n"
        "转人工 {handoffs} · 认领中位数 {claim} 分钟 · 首次回复中位数 {reply} 分钟\n"
        "试驾到店率 {show}（{completed}/{booked}）\nNPS {nps}（{answers} 份）· 投诉 {complaints}",
    },
    "en": {
        "usage": "Usage: /report [7d|30d] (the last 7 days unless 30d)",
        "failed": "The report could not be built; try again later or use `dealer-assistant "
        "report`.",
        "caption": "📊 Report {period}\nLeads {leads} · won {won} · lost {lost}\n"
        "Hand-offs {handoffs} · median claim {claim} min · median first reply {reply} min\n"
        "Test-drive show rate {show} ({completed}/{booked})\nNPS {nps} ({answers} answers) · "
        "complaints {complaints}",
    },
}


def _say(key: str, language: str | None, **values: object) -> str:
    text = WORDS["en" if language == "en" else "zh"][key]
    return text.format(**values) if values else text


def _figure(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:g}{unit}"


def caption(data: ReportData, language: str | None) -> str:
    """The album's caption: the period and its headline figures (escaped for HTML)."""
    funnel = {row.stage: row.leads for row in data.funnel}
    handoffs, shows, score = data.handoffs.total, data.show_rate_total, data.nps_total
    text = _say(
        "caption",
        language,
        period=data.period.label,
        leads=data.leads_created,
        won=funnel["won"],
        lost=funnel["lost"],
        handoffs=handoffs.opened,
        claim=_figure(None if handoffs.claim_median is None else round(handoffs.claim_median, 1)),
        reply=_figure(None if handoffs.reply_median is None else round(handoffs.reply_median, 1)),
        show=_figure(shows.rate_pct, "%"),
        completed=shows.completed,
        booked=shows.completed + shows.no_show,
        nps=_figure(score.nps),
        answers=score.answers,
        complaints=sum(row.total for row in data.complaints),
    )
    return cards.e(text)


def render(data: ReportData) -> list[tuple[str, bytes]]:
    """Every chart as (file name, PNG), drawn in a temporary folder that is then removed."""
    with tempfile.TemporaryDirectory(prefix="dealer-report-") as folder:
        written = build.write(data, Path(folder))
        return [(path.name, path.read_bytes()) for path in build.charts_of(written)]


async def command_report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The handler of ``/report`` (registered for staff only, in ``application.register``)."""
    await _report(update, context)


@staff_command
async def _report(update: Update, telegram: Telegram, who: Staff, args: list[str]) -> None:
    """/report [7d|30d] (managers): the charts of the last days as an album."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    if who.role != "manager":
        await message.reply_text(cards.e(w("managers", who.language)), parse_mode=ParseMode.HTML)
        return
    choice = args[0].lower() if args else "7d"
    if len(args) > 1 or choice not in PERIODS:
        await message.reply_text(_say("usage", who.language))
        return
    zone = telegram.settings.timezone
    period = Period.last_days(telegram.clock().astimezone(zone).date(), PERIODS[choice], zone)
    surveys = cached(telegram.settings.survey_config_path)
    await telegram.bot.send_chat_action(chat.id, ChatAction.UPLOAD_PHOTO)
    try:
        data = await telegram.db(lambda session: metrics.collect(session, period, surveys))
        pictures = await asyncio.to_thread(render, data)
    except Exception as error:  # the manager is told; the log gets no figures, no names
        logger.error("report for /report failed: %s", type(error).__name__)
        await message.reply_text(_say("failed", who.language))
        return
    text: str | None = caption(data, who.language)
    for first in range(0, len(pictures), ALBUM):
        chunk = pictures[first : first + ALBUM]
        if len(chunk) == 1:  # a media group needs two photos or more
            name, content = chunk[0]
            await telegram.bot.send_photo(
                chat.id, content, caption=text, parse_mode=ParseMode.HTML, filename=name
            )
        else:
            album = [
                InputMediaPhoto(content, caption=text if n == 0 else None,
                                parse_mode=ParseMode.HTML, filename=name)
                for n, (name, content) in enumerate(chunk)
            ]  # fmt: skip
            await telegram.bot.send_media_group(chat.id, album)
        text = None  # the caption goes with the first photo only
