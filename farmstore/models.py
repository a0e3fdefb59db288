"""Every model, imported in one place so the metadata (and Alembic) sees them all."""

from farmstore.accounts.models import User
from farmstore.catalog.models import Product, ProductPhoto, product_subjects
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.media.models import Photo
from farmstore.notifications.models import OutboxMessage
from farmstore.payments.models import LedgerEntry, Payment, Refund, StripeCustomer, WebhookEvent
from farmstore.producers.models import Producer
from farmstore.referrals.models import (
    Attribution,
    ChainEntry,
    CreditAccount,
    CreditEntry,
    Endorsement,
    LinkVisit,
    Referral,
    ShareLink,
)
from farmstore.regulars.models import Follow
from farmstore.sales.models import AreaRequest, Order, OrderLine, PickupPoint, Sale, SaleItem, WaitlistEntry
from farmstore.stories.models import Claim, StoryPhoto, StoryPost, Subject
from farmstore.villages.models import Village

__all__ = [
    "AreaRequest",
    "Attribution",
    "ChainEntry",
    "Claim",
    "CreditAccount",
    "CreditEntry",
    "Endorsement",
    "Follow",
    "GroupBuy",
    "LedgerEntry",
    "LinkVisit",
    "Order",
    "OrderLine",
    "OutboxMessage",
    "Payment",
    "Photo",
    "PickupPoint",
    "Pledge",
    "Producer",
    "Product",
    "ProductPhoto",
    "Referral",
    "Refund",
    "Sale",
    "SaleItem",
    "ShareLink",
    "StoryPhoto",
    "StoryPost",
    "StripeCustomer",
    "Subject",
    "User",
    "Village",
    "WaitlistEntry",
    "WebhookEvent",
    "product_subjects",
]
