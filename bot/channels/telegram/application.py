"""The Telegram channel: one python-telegram-bot ``Application`` per gateway process, built once
and started in the gateway's lifespan, with every handler registered here.

The webhook route records an update durably and queues it (``accept``); in polling mode the
updater queues it and ``remember`` records it first. Updates run concurrently across chats and in
order within a chat (one lock per chat). ``Telegram`` holds what the handlers share: the database,
the Rasa client, the clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, cast

from sqlalchemy.orm import Session
from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.channels.telegram import (
    customers,
    sales_commands,
    staff_chat,
    staff_commands,
    ticket_commands,
)
from bot.channels.telegram import updates as inbound
from bot.channels.telegram.report_command import command_report
from bot.channels.telegram.runtime import Telegram, of
from crm_bridge.settings import Settings

logger = logging.getLogger(__name__)

# Staff commands (each explained by /help).
STAFF_COMMANDS: Final = (
    "help", "leads", "lead", "today", "status", "followups", "delivered", "testdrive", "reply",
    "done", "unclaimed", "reassign",
)  # fmt: skip
# Where the handler of each staff command (``command_<name>``) lives.
COMMAND_MODULES: Final = (staff_commands, sales_commands)
Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


class ChatOrdered(BaseUpdateProcessor):
    """Updates of different chats run concurrently (one waiting for Rasa holds up no one else);
    those of one chat run one at a time, in the order they were queued."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # updates holding or awaiting each chat's lock

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._users[chat.id] = self._users.get(chat.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            # The lock is forgotten only when no update of the chat holds or awaits it: a lock
            # just released may already be promised to the next update.
            self._users[chat.id] -= 1
            if not self._users[chat.id]:
                del self._users[chat.id], self._locks[chat.id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


async def remember(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Record a polled update before it is handled; skip one already handled."""
    telegram = of(context)
    payload = update.to_dict()
    now = telegram.clock()

    def seen(session: Session) -> str | None:
        inbound.record(session, payload, now)  # a webhook update is recorded already
        row = inbound.state_of(session, update.update_id)
        return row.state if row is not None else None

    if await telegram.db(seen) == "done":
        raise ApplicationHandlerStop


async def forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Close the update once every handler ran."""
    await of(context).finish(update.update_id)


async def failed(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a handler's error without the customer's words."""
    logger.error("telegram handler failed: %s", type(context.error).__name__, exc_info=False)


def build_application(settings: Settings) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Application for the configured bot; handlers are registered by ``register``."""
    assert settings.telegram_bot_token
    base_url, file_url = settings.telegram_bot_api
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(base_url)
        .base_file_url(file_url)
        .concurrent_updates(ChatOrdered())
        .rate_limiter(AIORateLimiter(max_retries=3))
    )
    if settings.telegram_webhook_url:
        builder = builder.updater(None)  # the gateway's route receives the updates
    return builder.build()


def _staff_handler(name: str) -> Callback:
    """``command_<name>`` of the one module that has it."""
    attribute = f"command_{name}"
    [handler] = [getattr(m, attribute) for m in COMMAND_MODULES if hasattr(m, attribute)]
    return cast(Callback, handler)


def register(telegram: Telegram) -> None:
    """Every handler, in one place. Group -1 records polled updates; group 0 handles; group 1
    closes the update."""
    application = telegram.application
    application.bot_data["telegram"] = telegram
    application.add_handler(TypeHandler(Update, remember), group=-1)
    is_staff = staff_chat.StaffFilter(telegram.sessions)
    private = filters.ChatType.PRIVATE
    handlers = [
        CallbackQueryHandler(staff_chat.claim_pressed, pattern=r"^claim:\d+$"),
        CallbackQueryHandler(customers.button_pressed),
        *[
            CommandHandler(name, _staff_handler(name), filters=private & is_staff)
            for name in STAFF_COMMANDS
        ],
        CommandHandler(
            ticket_commands.COMMANDS, ticket_commands.command_ticket, filters=private & is_staff
        ),
        CommandHandler("report", command_report, filters=private & is_staff),
        CommandHandler(
            [*STAFF_COMMANDS, *ticket_commands.COMMANDS, "report"],
            staff_chat.not_staff,
            filters=private,
        ),
        MessageHandler(private & is_staff & ~filters.COMMAND, staff_chat.staff_message),
        MessageHandler(filters.UpdateType.EDITED_MESSAGE, customers.edited),
        ChatMemberHandler(customers.added_to_group, ChatMemberHandler.MY_CHAT_MEMBER),
        MessageHandler(~private, customers.group_message),
        MessageHandler(private & filters.CONTACT, customers.contact),
        MessageHandler(private & filters.TEXT, customers.text),
        MessageHandler(private & filters.LOCATION, customers.location),
        MessageHandler(private & filters.Sticker.ALL, customers.sticker),
        MessageHandler(private & (filters.PHOTO | filters.Document.IMAGE), customers.photo),
        MessageHandler(
            private & (filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE), customers.voice
        ),
        MessageHandler(private, customers.other),
    ]
    application.add_handlers(handlers, group=0)
    application.add_handler(TypeHandler(Update, forget), group=1)
    application.add_error_handler(failed)
