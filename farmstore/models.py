"""Every model, imported in one place so the metadata (and Alembic) sees them all."""

from farmstore.accounts.models import User
from farmstore.catalog.models import Product, ProductPhoto, product_subjects
from farmstore.deals.models import Coupon, Deal, Stall
from farmstore.evangelists.drafts import Draft
from farmstore.evangelists.models import Adoption, AuditEntry, Helper, Invitation, PublishGrant, Verification
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.inquiries.models import Question
from farmstore.media.models import Photo
from farmstore.notifications.models import OutboxMessage
from farmstore.payments.models import LedgerEntry, Payment, Refund, StripeCustomer, TossCustomer, WebhookEvent
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
    "Adoption",
    "AreaRequest",
    "Attribution",
    "AuditEntry",
    "ChainEntry",
    "Claim",
    "Coupon",
    "CreditAccount",
    "CreditEntry",
    "Deal",
    "Draft",
    "Endorsement",
    "Follow",
    "GroupBuy",
    "Helper",
    "Invitation",
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
    "PublishGrant",
    "Question",
    "Referral",
    "Refund",
    "Sale",
    "SaleItem",
    "ShareLink",
    "Stall",
    "StoryPhoto",
    "StoryPost",
    "StripeCustomer",
    "Subject",
    "TossCustomer",
    "User",
    "Verification",
    "Village",
    "WaitlistEntry",
    "WebhookEvent",
    "product_subjects",
]
