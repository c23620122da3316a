from .campaigns import Campaign, Delivery
from .contacts import Contact, Subscription, Topic
from .feedback import (
    CampaignComplaints,
    ContactImport,
    ProcessedWebhookEvent,
    SoftBounce,
    SuppressionRemoval,
)
from .ledger import ConsentEvent
from .suppression import Suppression
from .transactional import TransactionalMessage

__all__ = [
    "Campaign",
    "CampaignComplaints",
    "ConsentEvent",
    "Contact",
    "ContactImport",
    "Delivery",
    "ProcessedWebhookEvent",
    "SoftBounce",
    "Subscription",
    "Suppression",
    "SuppressionRemoval",
    "Topic",
    "TransactionalMessage",
]
