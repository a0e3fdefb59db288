"""Every model, imported in one place so the metadata (and Alembic) sees them all."""

from farmstore.accounts.models import User
from farmstore.catalog.models import Product, ProductPhoto, product_subjects
from farmstore.evangelists.drafts import Draft
from farmstore.evangelists.models import Adoption, AuditEntry, Helper, Invitation, PublishGrant, Verification
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.inquiries.models import Question
from farmstore.media.models import Photo
from farmstore.notifications.models import OutboxMessage
from farmstore.payments.models import LedgerEntry, Payment, Refund, StripeCustomer, WebhookEvent
from farmstore.producers.models import Producer
from farmstore.regulars.models import Follow
from farmstore.sales.models import AreaRequest, Order, OrderLine, PickupPoint, Sale, SaleItem, WaitlistEntry
from farmstore.stories.models import Claim, StoryPhoto, StoryPost, Subject
from farmstore.villages.models import Village

__all__ = [
    "Adoption",
    "AreaRequest",
    "AuditEntry",
    "Claim",
    "Draft",
    "Follow",
    "GroupBuy",
    "Helper",
    "Invitation",
    "LedgerEntry",
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
    "Refund",
    "Sale",
    "SaleItem",
    "StoryPhoto",
    "StoryPost",
    "StripeCustomer",
    "Subject",
    "User",
    "Verification",
    "Village",
    "WaitlistEntry",
    "WebhookEvent",
    "product_subjects",
]
