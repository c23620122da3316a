from .admin_proxies import CampaignComplaints, DataSubject
from .api import ApiKey
from .campaigns import Campaign, CampaignTestSend, Delivery
from .confirmations import ConfirmationRequest
from .contacts import Contact, ContactAddressHash, Subscription, Topic
from .feedback import ProcessedWebhookEvent, SoftBounce, SuppressionRemoval
from .imports import Import, ImportFileChunk, ImportRowError
from .layouts import CampaignTranslation, EmailLayout
from .ledger import ConsentEvent, LedgerCheckpoint
from .pages import LinkHit
from .policy import PolicyVersion
from .privacy import CampaignStatsArchive, PrivacyRequest
from .segments import Segment
from .suppression import Suppression
from .test_lists import TestList
from .transactional import TransactionalMessage
from .webhooks import OutboundEvent, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Campaign",
    "CampaignComplaints",
    "CampaignStatsArchive",
    "CampaignTestSend",
    "CampaignTranslation",
    "ConfirmationRequest",
    "ConsentEvent",
    "Contact",
    "ContactAddressHash",
    "DataSubject",
    "Delivery",
    "EmailLayout",
    "Import",
    "ImportFileChunk",
    "ImportRowError",
    "LedgerCheckpoint",
    "LinkHit",
    "OutboundEvent",
    "PolicyVersion",
    "PrivacyRequest",
    "ProcessedWebhookEvent",
    "Segment",
    "SoftBounce",
    "Subscription",
    "Suppression",
    "SuppressionRemoval",
    "TestList",
    "Topic",
    "TransactionalMessage",
    "WebhookDelivery",
    "WebhookEndpoint",
]
