"""Search over producers, products and stories that works the same on SQLite and PostgreSQL,
Korean included: every word must appear (case-insensitively) in one of the searched fields."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from farmstore.catalog.models import Product, ProductPhoto
from farmstore.evangelists.moderation import visible
from farmstore.extensions import db
from farmstore.producers.models import Producer
from farmstore.stories.models import StoryPhoto, StoryPost, Subject

MAX_TERMS = 5
MAX_TERM_LENGTH = 40
# Words that mean the market deals (farmstore.deals), in both languages.
DEAL_WORDS = ("딜", "쿠폰", "시장", "deal", "coupon", "market")


@dataclass
class Results:
    """What a search found, grouped the way the page shows it."""

    query: str
    producers: list = field(default_factory=list)
    products: list = field(default_factory=list)
    posts: list = field(default_factory=list)
    deals: bool = False  # the query asks for market deals or coupons: the page links /deals

    @property
    def empty(self) -> bool:
        """True when nothing at all matched."""
        return not (self.producers or self.products or self.posts or self.deals)


def terms_of(query: str) -> list[str]:
    """The words of a query, LIKE wildcards escaped, at most five."""
    words = [w[:MAX_TERM_LENGTH] for w in query.split() if w][:MAX_TERMS]
    return [w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for w in words]


def _matching(columns, terms):
    """One condition per term: the term appears, case-insensitively, in one of `columns`."""
    return [or_(*(column.ilike(f"%{term}%", escape="\\") for column in columns)) for term in terms]


def search(query: str, *, limit: int = 20) -> Results:
    """Producers, products and stories matching every word of `query`."""
    results = Results(query=query.strip())
    terms = terms_of(query)
    if not terms:
        return results
    results.deals = any(word in query.lower() for word in DEAL_WORDS)
    results.producers = list(
        db.session.scalars(
            select(Producer)
            .where(*_matching([Producer.farm_name, Producer.about], terms))
            .options(selectinload(Producer.photo), selectinload(Producer.village))
            .order_by(Producer.farm_name)
            .limit(limit)
        )
    )
    results.products = list(
        db.session.scalars(
            select(Product)
            .where(*_matching([Product.name, Product.description, Product.unit], terms), visible(Product))
            .options(
                selectinload(Product.photos).selectinload(ProductPhoto.photo),
                selectinload(Product.producer).selectinload(Producer.village),
            )
            .order_by(Product.name)
            .limit(limit)
        )
    )
    results.posts = list(
        db.session.scalars(
            select(StoryPost)
            .join(StoryPost.subject)
            .where(*_matching([StoryPost.title, StoryPost.body, Subject.name], terms), visible(StoryPost))
            .options(
                selectinload(StoryPost.photos).selectinload(StoryPhoto.photo),
                selectinload(StoryPost.subject).selectinload(Subject.producer),
            )
            .order_by(StoryPost.happened_on.desc(), StoryPost.id.desc())
            .limit(limit)
        )
    )
    return results
