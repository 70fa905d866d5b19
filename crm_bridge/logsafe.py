"""Log lines without personal data: phone numbers, e-mail addresses and secrets in URLs are masked.

``redact_logs()`` is called first thing by every app process (action server, gateway, CLI and
the launcher, which also masks the lines it relays from Rasa). It works at the moment a log record
is made, so it covers every logger and handler, third-party libraries (httpx logs request URLs
with Rasa's ``?token=``) and formatted tracebacks (a database error quotes the values it was
given). Names cannot be recognised in free text: the project's own log lines never contain them.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

import phonenumbers

PHONE_MASK: Final = "[phone]"
EMAIL_MASK: Final = "[email]"
SECRET_MASK: Final = "[secret]"  # noqa: S105 - the mask, not a secret

# Candidate phone numbers: digits with the separators people write (linear: no nested repeats).
_DIGIT_RUN = re.compile(r"\+?\d[\d \-()]*\d")
# Dates and times are not phones ("2026-12-05", "2026-12-01 02" before ":00:24").
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?: \d{1,2})?")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:token|access_token|secret|password|passwd|api_key|key|sig|signature)=)[^&\s\"'#]+"
)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@/\s]+(@)")


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = sum(c.isdigit() for c in text)
    if digits < 7 or digits > 15 or _DATE.fullmatch(text):
        return text
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return text
    return PHONE_MASK if phonenumbers.is_possible_number(number) else text


def redact(text: str) -> str:
    """``text`` with phone numbers, e-mail addresses and URL secrets masked."""
    if not text:
        return text
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + SECRET_MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + SECRET_MASK + m.group(2), text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    return _DIGIT_RUN.sub(_phone, text)


_FORMATTER = logging.Formatter()
ACCESS_LOGGER = "uvicorn.access"
_installed = False


def redact_logs() -> None:
    """Mask personal data in every log record this process makes from now on (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.name == ACCESS_LOGGER and isinstance(record.args, tuple):
            # uvicorn's access formatter reads its fields from the arguments themselves.
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
            return record
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to logging's own error report
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(redacted_record)
    _installed = True
