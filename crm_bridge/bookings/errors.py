"""What a booking request can fail with, and the slot it is about.

``Slot`` is a bookable time as handed to callers; ``BookingError`` and its subclasses are the
requests the dealership cannot fulfil as asked (unknown model, no demo car, the time not bookable
for one of ``REASONS``, too many bookings held, no such booking, a booking that cannot change).
They carry what the conversation needs to offer instead: nearest models or nearest free slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

REASONS = ("past", "too_soon", "too_far", "closed", "holiday", "off_grid", "full")


@dataclass(frozen=True)
class Slot:
    """A bookable test-drive time."""

    start: datetime  # aware, in the dealer's zone
    end: datetime


class BookingError(Exception):
    """A booking request the dealership cannot fulfil as asked."""


class UnknownModel(BookingError):
    """Not a model on sale (an active catalog model)."""

    def __init__(self, model: str) -> None:
        super().__init__(f"{model!r} is not a model on sale")
        self.model = model


class NoDemoCar(BookingError):
    """The model has no demo car; ``alternatives`` are the nearest models that do (at most 3)."""

    def __init__(self, model: str, alternatives: list[str]) -> None:
        super().__init__(f"no demo car of {model}")
        self.model = model
        self.alternatives = alternatives


class SlotUnavailable(BookingError):
    """The time cannot be booked: ``reason`` (one of REASONS) and the nearest free slots."""

    def __init__(self, reason: str, alternatives: list[Slot]) -> None:
        super().__init__(f"slot unavailable: {reason}")
        self.reason = reason
        self.alternatives = alternatives


class TooManyBookings(BookingError):
    """The customer or conversation already holds ``limit`` upcoming test drives."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"already {limit} active bookings")
        self.limit = limit


class BookingNotFound(BookingError):
    def __init__(self, booking_id: int) -> None:
        super().__init__(f"no booking with id {booking_id}")
        self.booking_id = booking_id


class BookingClosed(BookingError):
    """The booking cannot be changed: cancelled, completed, no-show, or not started yet."""
