"""Call outcomes the phone channel in Rasa hands over (``POST /internal/phone/calls``, with the
shared ``DA_RELAY_TOKEN``): each is recorded on its conversation (``phone_calls``), and a call
the dealership placed that nobody answered sends its message back to be tried again
(``bot.jobs.calls.outcome``)."""

from __future__ import annotations

import logging
import re
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.gateway import internal
from bot.jobs import calls
from crm_bridge.models import CALL_STATUSES

logger = logging.getLogger(__name__)

PATH: Final = "/internal/phone/calls"
CALL_SID: Final = re.compile(r"CA[0-9a-fA-F]{32}")
SENDER: Final = re.compile(r"phone:(\+[1-9]\d{6,14}|CA[0-9a-fA-F]{32})")


async def call_status(request: Request) -> Response:
    """Record a call's status; an unanswered call placed for a message is retried or reported."""
    if not internal.from_rasa(request):
        return JSONResponse({"error": "forbidden"}, status_code=403)
    try:
        data = await request.json()
        call_sid, sender = str(data["call_sid"]), str(data["sender_id"])
        status, direction = str(data["status"]), str(data.get("direction") or "inbound")
        duration = int(data["duration"]) if data.get("duration") not in (None, "") else None
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "call_sid, sender_id and status are needed"}, status_code=400)
    if not CALL_SID.fullmatch(call_sid) or not SENDER.fullmatch(sender):
        return JSONResponse({"error": "not a call of a phone conversation"}, status_code=400)
    if status not in CALL_STATUSES:
        return JSONResponse({"error": f"unknown status {status[:20]!r}"}, status_code=400)
    now = await calls.outcome(call_sid, sender, direction, status, duration)
    return JSONResponse({"status": now})
