"""Subjects (a specific animal, herd, field, orchard, hive or boat), their claims, and story posts."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from farmstore.evangelists.moderation import Hideable
from farmstore.extensions import db
from farmstore.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from farmstore.accounts.models import User
    from farmstore.media.models import Photo
    from farmstore.producers.models import Producer

SUBJECT_KINDS = {
    "animal": _l("Animal"),
    "herd": _l("Herd"),
    "field": _l("Field"),
    "orchard": _l("Orchard"),
    "hive": _l("Hive"),
    "boat": _l("Boat"),
}
# Kinds that are born (animals) rather than planted or built.
BORN_KINDS = {"animal", "herd", "hive"}
# The kind that carries a 개체식별번호 (one ear tag, one animal).
TRACEABLE_KIND = "animal"


class Subject(db.Model):
    """One specific thing a producer cares for, with a timeline buyers can follow.
    Its slug is unique per producer and never changes, so shared links keep working."""

    __tablename__ = "subjects"
    __table_args__ = (
        UniqueConstraint("producer_id", "slug", name="uq_subjects_producer_slug"),
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in SUBJECT_KINDS)})", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(80))
    started_on: Mapped[date | None] = mapped_column(Date)
    breed: Mapped[str] = mapped_column(String(80), default="")
    location: Mapped[str] = mapped_column(String(120), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # An animal's 12-digit 개체식별번호 (farmstore.trace), "" when none is given.
    trace_number: Mapped[str] = mapped_column(String(12), default="", server_default="", index=True)
    cover_photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    producer: Mapped[Producer] = relationship()
    cover_photo: Mapped[Photo | None] = relationship()
    claims: Mapped[list[Claim]] = relationship(
        back_populates="subject", order_by="Claim.id", cascade="all, delete-orphan"
    )

    @property
    def kind_label(self) -> str:
        return str(SUBJECT_KINDS.get(self.kind, self.kind))

    @property
    def is_born(self) -> bool:
        """Animals are born; fields and orchards are planted."""
        return self.kind in BORN_KINDS

    @property
    def carries_trace_number(self) -> bool:
        """Only a single animal has an ear tag, hence a traceability number."""
        return self.kind == TRACEABLE_KIND


class Claim(db.Model):
    """Something the producer states about a subject ("grass-fed", "no pesticides"), optionally
    backed by a photo of a certificate."""

    __tablename__ = "subject_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(80))
    certificate_photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))

    subject: Mapped[Subject] = relationship(back_populates="claims")
    certificate_photo: Mapped[Photo | None] = relationship()


class StoryPost(Hideable, db.Model):
    """A dated entry on a subject's timeline: Markdown text and photos. Newest first.
    `edited_at` is set when the text changes after publishing, and the page says so."""

    __tablename__ = "story_posts"
    __table_args__ = (Index("ix_story_posts_timeline", "subject_id", "happened_on", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    happened_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(120), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The evangelist who drafted it with the producer ("written with …"); set by evangelists.drafts.
    # No foreign key: adding one on SQLite would rebuild this table (see migration 8b2c1a5d0f42).
    written_with_id: Mapped[int | None] = mapped_column(Integer)
    # Telling the producer's followers (farmstore.regulars.services.notify_followers_of_post): the
    # last follower id emailed so far, and when everyone was told (set for posts older than this).
    followers_notified_through: Mapped[int | None] = mapped_column(Integer)
    followers_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subject: Mapped[Subject] = relationship()
    author: Mapped[User | None] = relationship()
    written_with: Mapped[User | None] = relationship(
        primaryjoin="foreign(StoryPost.written_with_id) == User.id", viewonly=True
    )
    photos: Mapped[list[StoryPhoto]] = relationship(
        order_by="StoryPhoto.position", cascade="all, delete-orphan", back_populates="post"
    )


class StoryPhoto(db.Model):
    """A photo on a story post, in the order the producer gave."""

    __tablename__ = "story_photos"

    post_id: Mapped[int] = mapped_column(ForeignKey("story_posts.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    post: Mapped[StoryPost] = relationship(back_populates="photos")
    photo: Mapped[Photo] = relationship()
