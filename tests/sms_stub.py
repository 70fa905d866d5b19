"""A local stand-in for the voice and SMS provider's REST API (Twilio's wire format): form-encoded
POST /2010-04-01/Accounts/{AccountSid}/Messages.json (a text) and .../Calls.json (a call placed:
``To``, ``From``, ``Url``, ``StatusCallback``) with HTTP Basic auth (account SID and auth token),
answered 201 with the message or call resource as JSON; GET .../Calls/{CallSid}.json reads a call
placed (its status as the test sets it in ``call_status``); wrong credentials get Twilio's 401."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "stub-auth-token"
FROM_NUMBER = "+862168880000"
CALL_PATH = re.compile(
    r"^/2010-04-01/Accounts/AC[0-9a-f]{32}/Calls/(?P<call>CA[0-9a-f]{32})\.json$"
)
PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-f]{32})/(?P<resource>Messages|Calls)\.json$"
)


@dataclass
class SmsStub:
    """The messages the stub accepted, and how to reach it."""

    base_url: str = ""
    sent: list[dict[str, str]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)  # with the "Sid" given
    call_status: dict[str, tuple[str, str]] = field(default_factory=dict)  # sid: status, duration
    fail_with: int | None = None  # answer every request with this status instead
    auth_token: str = AUTH_TOKEN

    def codes_to(self, phone: str) -> list[str]:
        """The six-digit codes texted to ``phone``, oldest first."""
        found = []
        for message in self.sent:
            if message["To"] == phone:
                match = re.search(r"\b(\d{6})\b", message["Body"])
                if match:
                    found.append(match.group(1))
        return found

    def env(self) -> dict[str, str]:
        """The settings that point the product at the stub."""
        return {
            "TWILIO_API_BASE_URL": self.base_url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
        }


def _handler(stub: SmsStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reports what matters."""

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            match = CALL_PATH.match(self.path)
            expected = base64.b64encode(f"{ACCOUNT_SID}:{stub.auth_token}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return
            placed = [c for c in stub.calls if match and c["Sid"] == match.group("call")]
            if match is None or not placed:
                self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
                return
            status, duration = stub.call_status.get(placed[0]["Sid"], ("queued", ""))
            self._answer(200, {"sid": placed[0]["Sid"], "account_sid": ACCOUNT_SID,
                               "to": placed[0]["To"], "from": placed[0]["From"],
                               "status": status, "duration": duration or None,
                               "direction": "outbound-api"})  # fmt: skip

        def do_POST(self) -> None:
            match = PATH.match(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            expected = base64.b64encode(f"{ACCOUNT_SID}:{stub.auth_token}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return
            if match is None or match.group("sid") != ACCOUNT_SID:
                self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
                return
            if self.headers.get("Content-Type", "").split(";")[0] != (
                "application/x-www-form-urlencoded"
            ):
                self._answer(400, {"code": 21609, "message": "Bad content type", "status": 400})
                return
            if stub.fail_with is not None:
                self._answer(stub.fail_with, {"code": 30001, "message": "Queue overflow"})
                return
            if match.group("resource") == "Calls":
                self._call(form)
                return
            if not form.get("To") or not form.get("Body") or form.get("From") != FROM_NUMBER:
                self._answer(400, {"code": 21604, "message": "A 'To' phone number is required."})
                return
            stub.sent.append(form)
            sid = "SM" + uuid.uuid4().hex
            self._answer(201, {"sid": sid, "account_sid": ACCOUNT_SID, "to": form["To"],
                               "from": form["From"], "body": form["Body"], "status": "queued",
                               "num_segments": "1", "direction": "outbound-api"})  # fmt: skip

        def _call(self, form: dict[str, str]) -> None:
            if not form.get("To") or form.get("From") != FROM_NUMBER:
                self._answer(400, {"code": 21201, "message": "No 'To' number is specified"})
                return
            if not (form.get("Url") or form.get("Twiml")):
                self._answer(400, {"code": 21205, "message": "Url parameter is required."})
                return
            sid = "CA" + uuid.uuid4().hex
            stub.calls.append({**form, "Sid": sid})
            self._answer(201, {"sid": sid, "account_sid": ACCOUNT_SID, "to": form["To"],
                               "from": form["From"], "status": "queued",
                               "direction": "outbound-api"})  # fmt: skip

    return Handler


@contextmanager
def running_sms_stub() -> Iterator[SmsStub]:
    """The stub on a free local port, for as long as the block runs."""
    stub = SmsStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    stub.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
