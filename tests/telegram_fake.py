"""A local fake of the Telegram Bot API speaking its wire format: ``GET``/``POST``
``/bot<token>/<method>`` (method names case-insensitive) with JSON, form-encoded or multipart
parameters, answered ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ...,
"description": ...}``; files are served from ``/file/bot<token>/<file_path>``. Point
python-telegram-bot at it with
``Bot(TOKEN, base_url=f"{fake.base_url}/bot", base_file_url=f"{fake.base_url}/file/bot")``.

The product reads ``fake.env()``: ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_API_BASE_URL``, the bare
``http://127.0.0.1:<port>``: the product builds ``f"{TELEGRAM_API_BASE_URL}/bot"`` (and
``.../file/bot``) itself.

Like the real API it rejects empty or over-long texts, callback data over 64 bytes, edits that
change nothing and ``getUpdates`` while a webhook is set; it strips HTML tags and MarkdownV2
escapes from stored texts (without validating them). It is lenient where a test cannot know
better: any file id is accepted, any message may be deleted, webhook URLs need not be HTTPS and
updates are never pushed to the webhook (use ``post_webhook``). A well-formed wrong token gets
401, a malformed one 404, as from the real API."""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

TOKEN = "123456789:AAF" + "d3m0-t0kEn_f0r_the_telegram_fake"  # 35 characters after the colon
BOT_USERNAME = "audi_demo_bot"
MAX_TEXT, MAX_CAPTION = 4096, 1024
_JPEG = "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP" + "/" * 86 + "wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAA"
TINY_JPEG = base64.b64decode(_JPEG + "AAAAAAAAAAP/aAAgBAQABPxA=") + b"\xff\xd9"  # a 1x1 JPEG
API_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)/?$")
FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")
TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]{35}$")
NOT_FOUND: dict[str, Any] = {"ok": False, "error_code": 404, "description": "Not Found"}
ACTIONS = ["typing", "upload_photo", "record_video", "upload_video", "record_voice"]
ACTIONS += ["upload_voice", "upload_document", "choose_sticker", "find_location"]
ACTIONS += ["record_video_note", "upload_video_note"]
# Form and multipart values are all strings; these are JSON-decoded (the rest stay strings).
TYPED = {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "cache_time"}
TYPED |= {"latitude", "longitude", "show_alert", "drop_pending_updates", "disable_notification"}
TYPED |= {"reply_markup", "allowed_updates", "commands", "entities", "caption_entities"}
TYPED |= {"reply_parameters", "link_preview_options", "scope", "reply_to_message_id"}


@dataclass(frozen=True)
class Upload:
    """A file that arrived as a multipart part."""

    filename: str
    content_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Call:
    """One API call the fake answered (``status``: the HTTP status it answered with)."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200

    @property
    def ok(self) -> bool:
        return self.status == 200


class ApiError(Exception):
    """An error answer: ``ApiError(status, description, retry_after=None)``."""

    def body(self) -> dict[str, Any]:
        status, description, *retry = self.args
        body = {"ok": False, "error_code": status, "description": description}
        return body | ({"parameters": {"retry_after": retry[0]}} if retry and retry[0] else {})


def _bad(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def _key(value: object) -> int | str:
    try:
        return int(str(value))
    except ValueError:
        return str(value)


def _coerce(name: str, value: Any) -> Any:
    if not isinstance(value, str) or name not in TYPED:
        return value
    try:
        return json.loads(value)
    except ValueError:
        if name == "reply_markup":
            raise _bad("can't parse reply keyboard markup JSON object") from None
        return value  # e.g. chat_id "@channelusername"


def _formatted(text: str, parse_mode: object) -> str:
    """The text as Telegram stores it: markup parsed away, surrounding whitespace trimmed."""
    mode = str(parse_mode or "").lower()
    if mode == "html":
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
    elif mode == "markdownv2":
        text = re.sub(r"\\(.)|[*_~|`]", lambda m: m[1] or "", text)
    return text.strip()


def bot_user(token: str = TOKEN) -> dict[str, Any]:
    """The bot as a ``User`` (what ``getMe`` answers, less the capability flags)."""
    bot_id = int(token.split(":")[0])
    return {"id": bot_id, "is_bot": True, "first_name": "Audi Demo", "username": BOT_USERNAME}


def _chat(chat_id: int | str, user: dict[str, Any] | None = None, title: str = "试驾群") -> Any:
    if isinstance(chat_id, str):  # "@channelusername"
        return {"id": -1_001_234_567_890, "type": "channel", "title": chat_id}
    if chat_id > 0:
        names = {k: v for k, v in (user or {}).items() if k in ("first_name", "username")}
        return {"id": chat_id, "type": "private"} | names
    kind = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
    return {"id": chat_id, "type": kind, "title": title}


def _photo_sizes(file_id: str, size: int) -> list[dict[str, Any]]:
    unique = "AQAD" + hashlib.sha256(file_id.encode()).hexdigest()[:12]
    small = {"file_id": f"{file_id}-s", "file_unique_id": f"{unique}-s", "width": 90}
    large = {"file_id": file_id, "file_unique_id": unique, "width": 800, "file_size": size}
    return [small | {"height": 67, "file_size": min(size, 1200)}, large | {"height": 600}]


@dataclass
class TelegramFake:
    """What the fake received and holds, how to reach it, and hooks to steer it."""

    token: str = TOKEN
    base_url: str = ""
    calls: list[Call] = field(default_factory=list, repr=False)  # append-only, under the lock
    webhook_url: str = ""
    webhook_secret: str | None = None
    commands: list[dict[str, Any]] = field(default_factory=list, repr=False)
    files: dict[str, bytes] = field(default_factory=dict, repr=False)  # file_id -> content
    _messages: dict[tuple[int | str, int | str], dict[str, Any]] = field(
        default_factory=dict, repr=False
    )
    _last_id: dict[int | str, int] = field(default_factory=dict, repr=False)
    _updates: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _failures: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict, repr=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def bot_user(self) -> dict[str, Any]:
        return bot_user(self.token)

    def env(self) -> dict[str, str]:
        """The settings that point the product at the fake (it appends ``/bot`` itself)."""
        return {"TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_API_BASE_URL": self.base_url}

    def queue_update(self, update: dict[str, Any]) -> None:
        """Hand ``update`` to ``getUpdates`` (polling mode), waking a long poll."""
        with self._cond:
            self._updates.append(copy.deepcopy(update))
            self._cond.notify_all()

    def fail_next(
        self, method: str, status: int, times: int = 1, retry_after: int | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``status`` (a 429 carries
        ``parameters.retry_after``, 1 unless given)."""
        retry_after = 1 if status == 429 and retry_after is None else retry_after
        with self._cond:
            self._failures.setdefault(method.lower(), []).extend([(status, retry_after)] * times)

    def register_file(self, file_id: str, content: bytes) -> None:
        """Serve ``content`` for ``file_id`` (other ids get ``TINY_JPEG``)."""
        with self._cond:
            self.files[file_id] = content

    def reset(self) -> None:
        """Forget every call, message, queued update, failure, file, command and webhook."""
        with self._cond:
            for store in (self.calls, self.commands, self._updates):
                store.clear()
            for mapping in (self.files, self._messages, self._last_id, self._failures):
                mapping.clear()
            self.webhook_url, self.webhook_secret = "", None

    def calls_of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method.lower() == method.lower()]

    def messages_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        """The messages the bot sent to ``chat_id`` as they are now (after edits, deletions)."""
        with self._cond:
            found = [m for (chat, _), m in self._messages.items() if chat == _key(chat_id)]
            return copy.deepcopy(found)

    def texts_to(self, chat_id: int | str) -> list[str]:
        """The texts (or captions) of ``messages_to(chat_id)``, oldest first."""
        found = (m.get("text", m.get("caption")) for m in self.messages_to(chat_id))
        return [text for text in found if text is not None]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
        since: float = 0.0,
    ) -> Call:
        """The first call of ``method`` made at or after ``since`` that ``predicate`` accepts,
        waiting up to ``timeout`` seconds for it. Failed calls count too: see ``Call.ok``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self.calls_of(method):
                    if call.at >= since and (predicate is None or predicate(call)):
                        return call
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    seen = [(c.method, c.status, c.params) for c in self.calls]
                    raise AssertionError(f"no matching {method} in {timeout}s; calls: {seen}")

    def wait_for_text(
        self, chat_id: int | str, contains: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first message to ``chat_id`` whose text or caption contains ``contains``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages_to(chat_id):
                    if contains in message.get("text", message.get("caption", "")):
                        return message
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    seen = self.texts_to(chat_id)
                    raise AssertionError(f"no text with {contains!r} to {chat_id}: {seen}")

    def handle(self, method: str, raw: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one API call: the HTTP status and the JSON body."""
        api: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": lambda p: self.bot_user | {"can_join_groups": True},
            "setWebhook": self._set_webhook,
            "deleteWebhook": lambda p: self._set_webhook(
                {"drop_pending_updates": p.get("drop_pending_updates")}
            ),
            "getWebhookInfo": self._webhook_info,
            "getUpdates": self._get_updates,
            "sendMessage": lambda p: self._store(p, self._text(p, "text", MAX_TEXT)),
            "editMessageText": lambda p: self._edit(p, self._text(p, "text", MAX_TEXT)),
            "editMessageCaption": lambda p: self._edit(p, self._text(p, "caption", MAX_CAPTION)),
            "editMessageReplyMarkup": lambda p: self._edit(p, {}),
            "answerCallbackQuery": self._answer_callback,
            "sendChatAction": self._chat_action,
            "sendPhoto": self._send_photo,
            "sendLocation": self._send_location,
            "sendContact": self._send_contact,
            "getFile": self._get_file,
            "setMyCommands": self._set_commands,
            "deleteMyCommands": lambda p: self._set_commands({}),
            "deleteMessage": self._delete_message,
        }
        name = next((n for n in api if n.lower() == method.lower()), None)
        if name is None:
            return 404, NOT_FOUND
        started, params = time.time(), raw
        try:
            self._maybe_fail(name)
            params = {k: _coerce(k, v) for k, v in raw.items()}
            status, body = 200, {"ok": True, "result": api[name](params)}
        except ApiError as error:
            status, body = error.args[0], error.body()
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            status, body = 400, _bad(f"wrong parameters: {error!r}").body()
        with self._cond:
            self.calls.append(Call(name, params, started, status))
            self._cond.notify_all()
        return status, body

    def _maybe_fail(self, name: str) -> None:
        with self._cond:
            status, retry = (self._failures.get(name.lower()) or [(0, None)]).pop(0)
        if status == 429:
            raise ApiError(status, f"Too Many Requests: retry after {retry}", retry)
        if status:
            reason = "Forbidden: bot was blocked by the user" if status == 403 else None
            raise ApiError(status, reason or HTTPStatus(status).phrase, retry)

    def download(self, token: str, path: str) -> bytes | None:
        """The content of ``/file/bot<token>/<path>``, or None for a 404."""
        match = re.fullmatch(r"photos/(.+)\.jpg", path)
        with self._cond:
            return self.files.get(match[1], TINY_JPEG) if match and token == self.token else None

    def _close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _text(self, p: dict[str, Any], key: str, limit: int) -> dict[str, Any]:
        text = _formatted("" if p.get(key) is None else str(p[key]), p.get("parse_mode"))
        if key == "text" and not text:
            raise _bad("message text is empty")
        if len(text) > limit:
            raise _bad("message is too long" if key == "text" else "message caption is too long")
        return {key: text} if text else {}

    def _markup(self, p: dict[str, Any]) -> dict[str, Any] | None:
        """The inline keyboard to echo (other keyboards are not part of a Message)."""
        markup = p.get("reply_markup")
        if markup is not None and not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if markup is None or "inline_keyboard" not in markup:
            return None
        for button in (b for row in markup["inline_keyboard"] for b in row):
            if not button.get("text") or len(button) < 2:
                raise _bad("can't parse inline keyboard button: Text buttons are unallowed")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _bad("BUTTON_DATA_INVALID")
        return markup

    def _store(self, p: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        chat_id, markup = self._chat_id(p), self._markup(p)
        with self._cond:
            message_id = self._last_id[chat_id] = self._last_id.get(chat_id, 0) + 1
            message = {"message_id": message_id, "from": self.bot_user, "chat": _chat(chat_id)}
            message |= {"date": int(time.time()), **content}
            message |= {"reply_markup": markup} if markup else {}
            self._messages[(chat_id, message_id)] = message
            return copy.deepcopy(message)

    def _edit(self, p: dict[str, Any], change: dict[str, Any]) -> Any:
        if p.get("inline_message_id"):
            return True
        chat_id, markup = self._chat_id(p), self._markup(p)
        if not p.get("message_id"):
            raise _bad("message identifier is not specified")
        with self._cond:
            old = self._messages.get((chat_id, _key(p["message_id"])))
            if old is None:
                raise _bad("message to edit not found")
            if change and ("text" if "text" in old else "caption") not in change:
                raise _bad(f"there is no {next(iter(change))} in the message to edit")
            new = {k: v for k, v in old.items() if k != "reply_markup"} | change
            new |= {"reply_markup": markup} if markup else {}
            if new == old:
                raise _bad(
                    "message is not modified: specified new message content and reply "
                    "markup are exactly the same as a current content and reply markup "
                    "of the message"
                )
            self._messages[(chat_id, old["message_id"])] = new | {"edit_date": int(time.time())}
            return copy.deepcopy(self._messages[(chat_id, old["message_id"])])

    @staticmethod
    def _chat_id(p: dict[str, Any]) -> int | str:
        if p.get("chat_id") in (None, ""):
            raise _bad("chat_id is empty")
        if (chat_id := _key(p["chat_id"])) == 0:
            raise _bad("chat not found")
        return chat_id

    def _set_webhook(self, p: dict[str, Any]) -> bool:
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        with self._cond:
            self.webhook_url, self.webhook_secret = str(p.get("url") or ""), secret
            if p.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _webhook_info(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            info = {"url": self.webhook_url, "has_custom_certificate": False}
            return info | {"pending_update_count": len(self._updates), "max_connections": 40}

    def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            reason = "can't use getUpdates method while webhook is active; use deleteWebhook"
            raise ApiError(409, f"Conflict: {reason} to delete the webhook first")
        offset, limit = int(p.get("offset") or 0), int(p.get("limit") or 100)
        allowed = set(p.get("allowed_updates") or [])
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        with self._cond:
            while True:  # updates before offset are confirmed: forget them
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                found = [u for u in self._updates if not allowed or allowed & u.keys()]
                if found or self._closed or time.monotonic() >= deadline:
                    return copy.deepcopy(found[:limit])
                self._cond.wait(deadline - time.monotonic())

    def _answer_callback(self, p: dict[str, Any]) -> bool:
        if not p.get("callback_query_id"):
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if len(str(p.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        return True

    def _chat_action(self, p: dict[str, Any]) -> bool:
        if self._chat_id(p) and p.get("action") not in ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _send_photo(self, p: dict[str, Any]) -> dict[str, Any]:
        photo, caption = p.get("photo"), self._text(p, "caption", MAX_CAPTION)
        if not photo:
            raise _bad("there is no photo in the request")
        with self._cond:
            file_id = str(photo)
            if isinstance(photo, Upload) or file_id.startswith(("http://", "https://")):
                file_id = f"AgAC{uuid.uuid4().hex}"
                self.files[file_id] = photo.content if isinstance(photo, Upload) else TINY_JPEG
            size = len(self.files.get(file_id, TINY_JPEG))
        return self._store(p, {"photo": _photo_sizes(file_id, size), **caption})

    def _send_location(self, p: dict[str, Any]) -> dict[str, Any]:
        latitude, longitude = p.get("latitude"), p.get("longitude")
        if not isinstance(latitude, int | float) or not -90 <= latitude <= 90:
            raise _bad("wrong latitude")
        if not isinstance(longitude, int | float) or not -180 <= longitude <= 180:
            raise _bad("wrong longitude")
        return self._store(p, {"location": {"latitude": latitude, "longitude": longitude}})

    def _send_contact(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("phone_number") or not p.get("first_name"):
            raise _bad("phone number and first name must be non-empty")
        fields = ("phone_number", "first_name", "last_name")
        return self._store(p, {"contact": {k: str(p[k]) for k in fields if p.get(k)}})

    def _get_file(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = str(p.get("file_id") or "")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", file_id):
            raise _bad("invalid file_id")
        with self._cond:
            size = len(self.files.get(file_id, TINY_JPEG))
        unique = "AQAD" + hashlib.sha256(file_id.encode()).hexdigest()[:12]
        found = {"file_id": file_id, "file_unique_id": unique, "file_size": size}
        return found | {"file_path": f"photos/{file_id}.jpg"}

    def _set_commands(self, p: dict[str, Any]) -> bool:
        with self._cond:
            self.commands[:] = list(p.get("commands") or [])
        return True

    def _delete_message(self, p: dict[str, Any]) -> bool:
        with self._cond:
            self._messages.pop((self._chat_id(p), _key(p.get("message_id"))), None)
        return True


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    found: dict[str, Any] = {}
    for part in BytesParser(policy=policy.HTTP).parsebytes(head + body).iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        content = part.get_payload(decode=True)
        assert isinstance(content, bytes)
        filename, kind = part.get_filename(), part.get_content_type()
        found[name] = content.decode() if filename is None else Upload(filename, kind, content)
    return found


def _handler(fake: TelegramFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reports what matters."""

        def _answer(self, status: int, body: dict[str, Any] | bytes) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "image/jpeg" if body is data else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _params(self, query: str) -> dict[str, Any]:
            found: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = self.headers.get("Content-Type", "")
            kind = content_type.split(";")[0].strip().lower()
            if kind == "application/json" and body:
                found.update(json.loads(body))
            elif kind == "application/x-www-form-urlencoded":
                found.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
            elif kind == "multipart/form-data":
                found.update(_multipart(content_type, body))
            return found

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            try:
                params = self._params(url.query)
            except (ValueError, TypeError):
                self._answer(400, _bad("can't parse JSON object").body())
                return
            path = unquote(url.path)  # PTB quotes file URLs: the token's ":" arrives as %3A
            file, call = FILE_PATH.match(path), API_PATH.match(path)
            if file is not None:
                content = fake.download(file["token"], file["path"])
                if content is None:
                    self._answer(404, NOT_FOUND)
                else:
                    self._answer(200, content)
            elif call is None or not TOKEN_SHAPE.match(call["token"]):
                self._answer(404, NOT_FOUND)
            elif call["token"] != fake.token:
                self._answer(401, ApiError(401, "Unauthorized").body())
            else:
                self._answer(*fake.handle(call["method"], params))

        do_POST = do_GET

    return Handler


@contextmanager
def running_telegram_fake(token: str = TOKEN) -> Iterator[TelegramFake]:
    """The fake on a free local port, for as long as the block runs."""
    fake = TelegramFake(token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake._close()  # wake long polls
        server.shutdown()
        server.server_close()


def post_webhook(url: str, update: dict[str, Any], secret: str | None = None) -> int:
    """POST ``update`` to the product's webhook as Telegram does; the status it answered."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return httpx.post(url, json=update, headers=headers, timeout=10.0).status_code


# Update builders: dicts in the Bot API's JSON shape, ids from counters unless given.
_update_ids = itertools.count(1)
_message_ids = itertools.count(1_000_001)  # clear of the ids the fake gives the bot's messages
_callback_ids = itertools.count(4_382_000_000_000_000_001)


def user(
    id: int, first_name: str = "小王", language_code: str | None = "zh", username: str | None = None
) -> dict[str, Any]:
    """A human ``User``."""
    extra = {"username": username, "language_code": language_code}
    found = {"id": id, "is_bot": False, "first_name": first_name}
    return found | {k: v for k, v in extra.items() if v is not None}


def _update(kind: str, payload: dict[str, Any], update_id: int | None) -> dict[str, Any]:
    return {"update_id": next(_update_ids) if update_id is None else update_id, kind: payload}


def _message(
    sender: dict[str, Any], chat_id: int | None, content: dict[str, Any], **chat: Any
) -> dict[str, Any]:
    message_id = content.pop("message_id", None) or next(_message_ids)
    chat_dict = _chat(sender["id"] if chat_id is None else chat_id, sender, **chat)
    found = {"message_id": message_id, "from": sender, "chat": chat_dict}
    return found | {"date": int(time.time())} | content


def _text(text: str) -> dict[str, Any]:
    if not text.startswith("/"):
        return {"text": text}
    command = {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
    return {"text": text, "entities": [command]}


def text_update(
    user: dict[str, Any], text: str, chat_id: int | None = None, update_id: int | None = None
) -> dict[str, Any]:
    """A text message (a ``/command`` gets its ``bot_command`` entity), by default in the
    private chat with ``user``."""
    return _update("message", _message(user, chat_id, _text(text)), update_id)


def group_text_update(
    user: dict[str, Any], chat_id: int, text: str, title: str = "试驾群"
) -> dict[str, Any]:
    """A text message in a group (``chat_id < 0``; a supergroup from -10**12 down)."""
    assert chat_id < 0, "group chat ids are negative"
    return _update("message", _message(user, chat_id, _text(text), title=title), None)


def edited_text_update(
    user: dict[str, Any], text: str, message_id: int | None = None, chat_id: int | None = None
) -> dict[str, Any]:
    """An ``edited_message`` (pass the original's ``message_id`` to model a real edit)."""
    content = _text(text) | {"message_id": message_id, "edit_date": int(time.time())}
    return _update("edited_message", _message(user, chat_id, content), None)


def callback_update(
    user: dict[str, Any], data: str, message: dict[str, Any], update_id: int | None = None
) -> dict[str, Any]:
    """A press of the inline button with ``data`` under ``message`` (from ``messages_to``)."""
    query = {"id": str(next(_callback_ids)), "from": user, "message": message, "data": data}
    return _update("callback_query", query | {"chat_instance": "-7919"}, update_id)


def contact_update(
    user: dict[str, Any], phone_number: str, contact_user_id: int | None, first_name: str = ""
) -> dict[str, Any]:
    """A shared contact: ``contact_user_id`` other than ``user["id"]`` models sharing someone
    else's contact, None one who is not on Telegram."""
    contact = {"phone_number": phone_number, "first_name": first_name or user["first_name"]}
    contact |= {} if contact_user_id is None else {"user_id": contact_user_id}
    return _update("message", _message(user, None, {"contact": contact}), None)


def sticker_update(user: dict[str, Any], emoji: str = "👍") -> dict[str, Any]:
    ids = {"file_id": f"CAAC{uuid.uuid4().hex}", "file_unique_id": uuid.uuid4().hex[:16]}
    sticker = ids | {"type": "regular", "width": 512, "height": 512, "emoji": emoji}
    sticker |= {"is_animated": False, "is_video": False}
    return _update("message", _message(user, None, {"sticker": sticker}), None)


def photo_update(
    user: dict[str, Any], file_id: str | None = None, caption: str | None = None
) -> dict[str, Any]:
    """A photo; its largest size (the last) has ``file_id``."""
    content: dict[str, Any] = {"photo": _photo_sizes(file_id or f"AgAC{uuid.uuid4().hex}", 4000)}
    content |= {"caption": caption} if caption else {}
    return _update("message", _message(user, None, content), None)


def voice_update(user: dict[str, Any], duration: int = 3) -> dict[str, Any]:
    ids = {"file_id": f"AwAC{uuid.uuid4().hex}", "file_unique_id": uuid.uuid4().hex[:16]}
    voice = ids | {"duration": duration, "mime_type": "audio/ogg", "file_size": 6000}
    return _update("message", _message(user, None, {"voice": voice}), None)


def location_update(
    user: dict[str, Any], latitude: float = 31.2304, longitude: float = 121.4737
) -> dict[str, Any]:
    location = {"latitude": latitude, "longitude": longitude}
    return _update("message", _message(user, None, {"location": location}), None)


def my_chat_member_update(
    user: dict[str, Any], chat_id: int, title: str = "试驾群", new_status: str = "member"
) -> dict[str, Any]:
    """``user`` adding the bot to a group (``new_status`` "member"), or removing it ("left")."""
    old_status = "left" if new_status != "left" else "member"
    old, new = ({"user": bot_user(), "status": s} for s in (old_status, new_status))
    change = {"chat": _chat(chat_id, user, title), "from": user, "date": int(time.time())}
    change |= {"old_chat_member": old, "new_chat_member": new}
    return _update("my_chat_member", change, None)
