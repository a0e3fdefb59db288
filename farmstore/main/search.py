"""Search over producers, products and stories that works the same on SQLite and PostgreSQL,
Korean included: every word must appear (case-insensitively) in one of the searched fields.
A query that is a traceability number (12 digits, or a lot number; spaces and hyphens ignored)
finds the animal carrying it and the products labelled with it or made from that animal."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from farmstore.catalog.models import Product, ProductPhoto
from farmstore.evangelists.moderation import visible
from farmstore.extensions import db
from farmstore.producers.models import Producer
from farmstore.stories.models import StoryPhoto, StoryPost, Subject
from farmstore.trace import is_animal_number, is_lot_number, normalise

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
    subjects: list = field(default_factory=list)
    trace_number: str = ""
    deals: bool = False  # the query asks for market deals or coupons: the page links /deals

    @property
    def empty(self) -> bool:
        """True when nothing at all matched."""
        return not (self.producers or self.products or self.posts or self.subjects or self.deals)


def trace_number_of(query: str) -> str:
    """The traceability number a query consists of, normalised, or "" when it is not one."""
    number = normalise(query)
    if is_animal_number(number) or is_lot_number(number):
        return number
    return ""


def _by_trace_number(results: Results, number: str, limit: int) -> Results:
    """The animals with this number and the products labelled with it or coming from them."""
    results.trace_number = number
    results.subjects = list(
        db.session.scalars(
            select(Subject)
            .where(Subject.trace_number == number)
            .options(selectinload(Subject.cover_photo), selectinload(Subject.producer))
            .order_by(Subject.name)
            .limit(limit)
        )
    )
    results.products = list(
        db.session.scalars(
            select(Product)
            .where(
                or_(Product.trace_number == number, Product.subjects.any(Subject.trace_number == number)),
                visible(Product),
            )
            .options(
                selectinload(Product.photos).selectinload(ProductPhoto.photo),
                selectinload(Product.producer).selectinload(Producer.village),
            )
            .order_by(Product.name)
            .limit(limit)
        )
    )
    return results


def terms_of(query: str) -> list[str]:
    """The words of a query, LIKE wildcards escaped, at most five."""
    words = [w[:MAX_TERM_LENGTH] for w in query.split() if w][:MAX_TERMS]
    return [w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for w in words]


def _matching(columns, terms):
    """One condition per term: the term appears, case-insensitively, in one of `columns`."""
    return [or_(*(column.ilike(f"%{term}%", escape="\\") for column in columns)) for term in terms]


def search(query: str, *, limit: int = 20) -> Results:
    """Producers, products and stories matching every word of `query`, or what carries the
    traceability number `query` is."""
    results = Results(query=query.strip())
    number = trace_number_of(query)
    if number:
        return _by_trace_number(results, number, limit)
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
