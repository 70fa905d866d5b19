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
from crm_bridge.models.catalog import CatalogModel, Consultant, Dealer, Promotion, promotion_models
from crm_bridge.models.conversations import Conversation
from crm_bridge.models.leads import Customer, Lead, LeadEvent, LeadModel

__all__ = [
    "BODY_TYPES", "CHANNELS", "CLOSED_STATUSES", "LANGUAGES", "LEAD_STATUSES", "LEVELS",
    "PAYMENTS", "POWERTRAINS", "Base", "CatalogModel", "Consultant", "Conversation", "Customer",
    "Dealer", "Lead", "LeadEvent", "LeadModel", "Promotion", "promotion_models",
]  # fmt: skip
