"""Test drives: book one in a few turns (model, time, contact, licence, confirmation), move or
cancel it later, and remind the customer before it.

Availability is the dealership database's: a time is only offered or accepted when a demo car of
the model and a consultant are free then (``crm_bridge.bookings``). Times the customer cannot have
(past, closed, fully booked) are answered with the nearest free slots as buttons.
"""

from actions.test_drive.booking import (
    ActionAskTdConfirmed,
    ActionAskTdTime,
    ActionStartTestDrive,
    ActionSubmitTestDrive,
)
from actions.test_drive.common import booking_questions
from actions.test_drive.manage import (
    ActionAskTdBooking,
    ActionSubmitCancel,
    ActionSubmitReschedule,
    ActionTestDriveReminder,
    ValidateCancelForm,
    ValidateRescheduleForm,
)
from actions.test_drive.validation import ValidateTestDriveForm

__all__ = [
    "ActionAskTdBooking", "ActionAskTdConfirmed", "ActionAskTdTime", "ActionStartTestDrive",
    "ActionSubmitCancel", "ActionSubmitReschedule", "ActionSubmitTestDrive",
    "ActionTestDriveReminder", "ValidateCancelForm", "ValidateRescheduleForm",
    "ValidateTestDriveForm", "booking_questions",
]  # fmt: skip
