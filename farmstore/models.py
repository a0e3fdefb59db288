"""Every model, imported in one place so the metadata (and Alembic) sees them all."""

from farmstore.accounts.models import User
from farmstore.media.models import Photo
from farmstore.notifications.models import OutboxMessage
from farmstore.producers.models import Producer
from farmstore.villages.models import Village

__all__ = ["OutboxMessage", "Photo", "Producer", "User", "Village"]
