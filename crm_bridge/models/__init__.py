"""SQLAlchemy 2 typed models of the dealership database."""

from crm_bridge.models.base import (
    BODY_TYPES,
    CHANNELS,
    CLOSED_STATUSES,
    LANGUAGES,
    LEAD_STATUSES,
    LEVELS,
    PAYMENTS,
    POWERTRAINS,
    Base,
)
from crm_bridge.models.bookings import (
    ACTIVE_BOOKING_STATUSES,
    BOOKING_STATUSES,
    Booking,
    BookingCell,
    BookingEvent,
    DemoCar,
    Notification,
    Survey,
)
from crm_bridge.models.catalog import CatalogModel, Consultant, Dealer, Promotion, promotion_models
from crm_bridge.models.conversations import Conversation
from crm_bridge.models.identity import (
    LINK_KINDS,
    VERIFICATIONS,
    CustomerLink,
    ErasureTombstone,
    VerificationCode,
    VerifiedPhone,
)
from crm_bridge.models.leads import Customer, Lead, LeadEvent, LeadModel
from crm_bridge.models.vehicles import StockItem, Trim, TrimEquipment

__all__ = [
    "ACTIVE_BOOKING_STATUSES", "BODY_TYPES", "BOOKING_STATUSES", "CHANNELS", "CLOSED_STATUSES",
    "LANGUAGES", "LEAD_STATUSES", "LEVELS", "LINK_KINDS", "PAYMENTS", "POWERTRAINS",
    "VERIFICATIONS", "Base", "Booking", "BookingCell", "BookingEvent", "CatalogModel",
    "Consultant", "Conversation", "Customer", "CustomerLink", "Dealer", "DemoCar",
    "ErasureTombstone", "Lead", "LeadEvent", "LeadModel", "Notification", "Promotion",
    "StockItem", "Survey", "Trim", "TrimEquipment", "VerificationCode", "VerifiedPhone",
    "promotion_models",
]  # fmt: skip
