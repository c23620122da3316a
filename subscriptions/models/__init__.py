from .api import ApiKey
from .campaigns import Campaign, Delivery
from .contacts import Contact, Subscription, Topic
from .ledger import ConsentEvent
from .pages import LinkHit
from .policy import PolicyVersion
from .privacy import CampaignStatsArchive, DataSubject, PrivacyRequest
from .suppression import Suppression
from .transactional import TransactionalMessage

__all__ = [
    "ApiKey",
    "Campaign",
    "CampaignStatsArchive",
    "ConsentEvent",
    "Contact",
    "DataSubject",
    "Delivery",
    "LinkHit",
    "PolicyVersion",
    "PrivacyRequest",
    "Subscription",
    "Suppression",
    "Topic",
    "TransactionalMessage",
]
