"""Limits shared by the NLU components and the action server (plain Python, both environments)."""

from __future__ import annotations

from typing import Final

# Messages longer than this are answered without being parsed: no buyer writes that much in one
# message, and a parse costs time that every other customer would wait for (README, "Limits").
MAX_MESSAGE_CHARS: Final = 1000
# Where the tokenizer notes, on a message it did not parse, its length and the limit; the parse
# result carries it to the actions (``tracker.latest_message["too_long"]``).
TOO_LONG: Final = "too_long"
