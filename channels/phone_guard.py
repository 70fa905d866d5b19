"""The phone channel's doors and memory (pure, standard library only; both environments).

- ``twilio_signature``: Twilio's documented request signature (base64 of HMAC-SHA1, keyed with
  the auth token, over the full URL followed by each POST parameter's name and value, sorted by
  name). The channel itself validates with ``twilio.request_validator.RequestValidator``; this
  function signs the tests' requests and is checked against that validator.
- ``ReplayCache``: requests seen recently (signature, CallSid and parameters), so that a captured
  request sent again is refused. Every TwiML answer points the next request at a URL with a fresh
  nonce, so two genuine requests of a call never look alike (two silences in a row included).
- ``CallMemory``: what the channel remembers per call (CallSid) between the requests of a call:
  language, the keypad options last offered, silences in a row. In memory, with a time to live.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

from channels.phone_speech import Language, Option

REPLAY_SECONDS: Final = 15 * 60.0
CALL_SECONDS: Final = 4 * 60 * 60.0
MAX_ENTRIES: Final = 100_000

T = TypeVar("T")


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` Twilio sends with a form-encoded POST to ``url``."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class _Expiring(Generic[T]):
    """Entries that expire ``ttl`` seconds after they were last written (oldest dropped first)."""

    def __init__(self, ttl: float, clock: Callable[[], float], limit: int) -> None:
        self.ttl = ttl
        self.clock = clock
        self.limit = limit
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def _purge(self, now: float) -> None:
        while self._entries:
            key, (expires, _) = next(iter(self._entries.items()))
            if expires > now and len(self._entries) <= self.limit:
                break
            del self._entries[key]

    def get(self, key: str) -> T | None:
        now = self.clock()
        self._purge(now)
        entry = self._entries.get(key)
        return entry[1] if entry else None

    def put(self, key: str, value: T) -> None:
        now = self.clock()
        self._entries.pop(key, None)
        self._entries[key] = (now + self.ttl, value)
        self._purge(now)

    def pop(self, key: str) -> T | None:
        entry = self._entries.pop(key, None)
        return entry[1] if entry else None

    def __len__(self) -> int:
        self._purge(self.clock())
        return len(self._entries)


class ReplayCache:
    """Remembers requests for ``ttl`` seconds; ``first_time`` is False for one seen before."""

    def __init__(
        self,
        ttl: float = REPLAY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        limit: int = MAX_ENTRIES,
    ) -> None:
        self._seen: _Expiring[bool] = _Expiring(ttl, clock, limit)

    @staticmethod
    def key(signature: str, url: str, params: Mapping[str, str]) -> str:
        call = params.get("CallSid", "")
        body = "\n".join(f"{k}={params[k]}" for k in sorted(params))
        material = "\x00".join((signature, call, url, body)).encode("utf-8")
        return hashlib.sha256(material).hexdigest()

    def first_time(self, signature: str, url: str, params: Mapping[str, str]) -> bool:
        """Whether this request is new; it is remembered from now on."""
        key = self.key(signature, url, params)
        if self._seen.get(key):
            return False
        self._seen.put(key, True)
        return True

    def __len__(self) -> int:
        return len(self._seen)


@dataclass
class Call:
    """One call as the channel remembers it between requests."""

    language: Language
    options: list[Option] = field(default_factory=list)
    silences: int = 0
    turns: int = 0

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)


class CallMemory:
    """Calls by CallSid, forgotten ``ttl`` seconds after their latest request."""

    def __init__(
        self,
        ttl: float = CALL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        limit: int = MAX_ENTRIES,
    ) -> None:
        self._calls: _Expiring[Call] = _Expiring(ttl, clock, limit)

    def get(self, call_sid: str) -> Call | None:
        return self._calls.get(call_sid)

    def start(self, call_sid: str, language: Language) -> Call:
        call = Call(language)
        self._calls.put(call_sid, call)
        return call

    def touch(self, call_sid: str, call: Call) -> None:
        self._calls.put(call_sid, call)

    def end(self, call_sid: str) -> Call | None:
        return self._calls.pop(call_sid)

    def __len__(self) -> int:
        return len(self._calls)
