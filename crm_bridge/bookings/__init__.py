"""Test-drive bookings: free slots, booking, moving, cancelling and the outcome of a test drive.

Repository functions take a session and never commit. Every time given or returned is
timezone-aware; the dealer's opening hours and the consultants' working hours are local wall times
in the dealer's zone (``zone``), so slots keep their wall times across a daylight-saving change:
slot starts are the opening time plus whole slots, a wall time that does not exist (the hour the
clocks skip) is skipped, and an ambiguous one (the hour they repeat) is taken the first time
(``fold=0``). Durations and comparisons are done in UTC.

No double booking: a booking occupies 15-minute cells of its demo car and of its consultant
(``booking_cells``, one row per cell, unique), written in a savepoint. When a concurrent booking
took a cell first, the insert fails on the database's unique key, the savepoint is rolled back and
the next free car and consultant are tried; when none is left the slot is reported full, with the
nearest free slots as alternatives.

The package re-exports its public names; they live in:

- ``errors``: ``Slot``, ``BookingError`` and its subclasses, ``REASONS``;
- ``calendar``: opening hours, holidays, consultants' hours, the 15-minute cells (``CELL``);
- ``availability``: reading (``demo_models``, ``nearest_demo_models``, ``free_slots``,
  ``check_slot``, ``bookings_for``);
- ``booking``: writing a new booking (``book``) and the write helpers;
- ``changes``: ``reschedule``, ``cancel``, ``mark_outcome`` (``OUTCOMES``,
  ``SURVEY_DELAY``);
- ``records``: export (``booking_record``, ``booking_records``, ``BOOKING_FIELDS``).
"""

from crm_bridge.bookings.availability import (
    bookings_for,
    check_slot,
    demo_models,
    free_slots,
    nearest_demo_models,
)
from crm_bridge.bookings.booking import book
from crm_bridge.bookings.calendar import CELL, Taken
from crm_bridge.bookings.changes import (
    OUTCOMES,
    SURVEY_DELAY,
    cancel,
    mark_outcome,
    reschedule,
)
from crm_bridge.bookings.errors import (
    REASONS,
    BookingClosed,
    BookingError,
    BookingNotFound,
    NoDemoCar,
    Slot,
    SlotUnavailable,
    TooManyBookings,
    UnknownModel,
)
from crm_bridge.bookings.records import BOOKING_FIELDS, booking_record, booking_records

__all__ = [
    "BOOKING_FIELDS",
    "CELL",
    "OUTCOMES",
    "REASONS",
    "SURVEY_DELAY",
    "BookingClosed",
    "BookingError",
    "BookingNotFound",
    "NoDemoCar",
    "Slot",
    "SlotUnavailable",
    "Taken",
    "TooManyBookings",
    "UnknownModel",
    "book",
    "booking_record",
    "booking_records",
    "bookings_for",
    "cancel",
    "check_slot",
    "demo_models",
    "free_slots",
    "mark_outcome",
    "nearest_demo_models",
    "reschedule",
]
