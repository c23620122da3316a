from .admin_proxies import CampaignComplaints, DataSubject
from .api import ApiKey
from .campaigns import Campaign, CampaignTestSend, Delivery
from .confirmations import ConfirmationRequest
from .contacts import Contact, ContactAddressHash, Subscription, Topic
from .feedback import ProcessedWebhookEvent, SoftBounce, SuppressionRemoval
from .imports import Import, ImportFileChunk, ImportRowError
from .ledger import ConsentEvent, LedgerCheckpoint
from .pages import LinkHit
from .policy import PolicyVersion
from .privacy import CampaignStatsArchive, PrivacyRequest
from .suppression import Suppression
from .transactional import TransactionalMessage

__all__ = [
    "ApiKey",
    "Campaign",
    "CampaignComplaints",
    "CampaignStatsArchive",
    "CampaignTestSend",
    "ConfirmationRequest",
    "ConsentEvent",
    "Contact",
    "ContactAddressHash",
    "DataSubject",
    "Delivery",
    "Import",
    "ImportFileChunk",
    "ImportRowError",
    "LedgerCheckpoint",
    "LinkHit",
    "PolicyVersion",
    "PrivacyRequest",
    "ProcessedWebhookEvent",
    "SoftBounce",
    "Subscription",
    "Suppression",
    "SuppressionRemoval",
    "Topic",
    "TransactionalMessage",
]
