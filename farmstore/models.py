"""Every model, imported in one place so the metadata (and Alembic) sees them all."""

from farmstore.accounts.models import User
from farmstore.catalog.models import Product, ProductPhoto, product_subjects
from farmstore.media.models import Photo
from farmstore.notifications.models import OutboxMessage
from farmstore.producers.models import Producer
from farmstore.regulars.models import Follow
from farmstore.stories.models import Claim, StoryPhoto, StoryPost, Subject
from farmstore.villages.models import Village

__all__ = [
    "Claim",
    "Follow",
    "OutboxMessage",
    "Photo",
    "Producer",
    "Product",
    "ProductPhoto",
    "StoryPhoto",
    "StoryPost",
    "Subject",
    "User",
    "Village",
    "product_subjects",
]
