"""Questions (and complaints) a buyer sends a producer, and their answers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.evangelists.moderation import Hideable
from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User
    from farmstore.producers.models import Producer

TOPICS = {
    "pickup": _l("Pickup"),
    "delivery": _l("Delivery"),
    "quality": _l("Quality"),
    "price": _l("Price"),
    "availability": _l("Availability"),
    "other": _l("Something else"),
}
KINDS = {"question": _l("Question"), "complaint": _l("Complaint")}
# The pages a question can be asked from; `about_id` is the id of that page's row.
ABOUT_KINDS = ("producer", "product", "subject", "sale", "group_buy")
BODY_MAX_LENGTH = 2000


class Question(Hideable, db.Model):
    """A buyer's question or complaint to one producer, asked from one of its pages.

    Once answered it is public unless the buyer asked privately; a private one is seen only by
    the asker, the producer and the village's evangelist. The producer or their village's active
    evangelist answers it once. An unanswered one is reminded to the producer after 12 hours and
    escalated to the evangelist after 24 (`reminded_at`, `escalated_at`: each happens once).
    An operator may hide it with a reason (`Hideable`)."""

    __tablename__ = "questions"
    __table_args__ = (
        CheckConstraint(f"topic IN ({', '.join(repr(t) for t in TOPICS)})", name="topic"),
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in KINDS)})", name="kind"),
        CheckConstraint(f"about_kind IN ({', '.join(repr(k) for k in ABOUT_KINDS)})", name="about_kind"),
        CheckConstraint("(answer IS NULL) = (answered_at IS NULL)", name="answered"),
        Index("ix_questions_producer_answered", "producer_id", "answered_at"),
        Index("ix_questions_about", "about_kind", "about_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"))
    asker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    about_kind: Mapped[str] = mapped_column(String(12), default="producer")
    about_id: Mapped[int | None] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(12), default="question")
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answered_as_evangelist: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    producer: Mapped[Producer] = relationship()
    asker: Mapped[User] = relationship(foreign_keys=[asker_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None

    @property
    def topic_label(self) -> str:
        """The topic's name in the current language."""
        return str(TOPICS.get(self.topic, self.topic))

    @property
    def kind_label(self) -> str:
        """ "Question" or "Complaint" in the current language."""
        return str(KINDS.get(self.kind, self.kind))
