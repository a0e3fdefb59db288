"""Helpers for the recommendation-chain tests: a farm with a sale that carries a reward, and members
who share links and follow each other's links through the real services.

Service tests run at the fixed NOW (the sales helpers' clock); view tests use the real clock."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from farmstore.extensions import db
from farmstore.referrals import services
from farmstore.referrals.models import CreditEntry, ShareLink
from tests.catalog.conftest import make_product
from tests.english import client, ctx  # noqa: F401 (fixtures, found by pytest by name)
from tests.factories import make_producer, make_user, make_village
from tests.sales.conftest import NOW, make_point, make_sale


def build_chain_world(*, reward_bps: int = 1_000) -> SimpleNamespace:
    """느릅골 농장 with an open sale of 배추김치 (20,000원, 50 of them, up to 5 each) carrying a reward of
    `reward_bps`; members 지연 (A), 민호 (B), 소라 (C) and 다니엘 (D)."""
    producer = make_producer(make_user("owner@example.com", display_name="농부 김씨"), make_village("들꽃마을"),
                             farm_name="느릅골 농장")  # fmt: skip
    kimchi = make_product(producer, "배추김치")
    sale = make_sale(producer, [(kimchi, 20_000, 50, 5)], point=make_point(producer))
    sale.reward_bps = reward_bps
    db.session.commit()
    return SimpleNamespace(
        producer=producer,
        kimchi=kimchi,
        sale=sale,
        a=make_user("a@example.com", display_name="지연"),
        b=make_user("b@example.com", display_name="민호"),
        c=make_user("c@example.com", display_name="소라"),
        d=make_user("d@example.com", display_name="다니엘"),
    )


def share(user, target, *, kind: str = "sale", now=NOW, **extra) -> ShareLink:
    """`user`'s share link to `target` (a sale unless `kind` says otherwise)."""
    return services.share(user, kind=kind, target_id=target.id, now=now, **extra)


def visit(link: ShareLink, user, *, now=NOW) -> bool:
    """`user` (a member) opens `link`."""
    return services.open_link(link, user=user, guest=None, now=now)


def credit_entries(user) -> list[tuple[str, int]]:
    """(kind, amount) of a member's credit movements, oldest first."""
    rows = db.session.scalars(select(CreditEntry).where(CreditEntry.user_id == user.id).order_by(CreditEntry.id))
    return [(row.kind, row.amount) for row in rows]
