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
from .pages import LinkHit
from .suppression import Suppression
from .transactional import TransactionalMessage

__all__ = [
    "Campaign",
    "CampaignComplaints",
    "ConsentEvent",
    "Contact",
    "ContactImport",
    "Delivery",
    "LinkHit",
    "ProcessedWebhookEvent",
    "SoftBounce",
    "Subscription",
    "Suppression",
    "SuppressionRemoval",
    "Topic",
    "TransactionalMessage",
]
