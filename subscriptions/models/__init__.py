from .campaigns import Campaign, Delivery
from .contacts import Contact, Subscription, Topic
from .ledger import ConsentEvent
from .pages import LinkHit
from .suppression import Suppression
from .transactional import TransactionalMessage

__all__ = [
    "Campaign",
    "ConsentEvent",
    "Contact",
    "Delivery",
    "LinkHit",
    "Subscription",
    "Suppression",
    "Topic",
    "TransactionalMessage",
]
