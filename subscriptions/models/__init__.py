from .api import ApiKey
from .campaigns import Campaign, Delivery
from .contacts import Contact, Subscription, Topic
from .ledger import ConsentEvent
from .suppression import Suppression
from .transactional import TransactionalMessage

__all__ = [
    "ApiKey",
    "Campaign",
    "ConsentEvent",
    "Contact",
    "Delivery",
    "Subscription",
    "Suppression",
    "Topic",
    "TransactionalMessage",
]
