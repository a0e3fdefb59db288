"""What both benchmarks share: a throwaway PostgreSQL database, an app on it, a seeded sale,
and percentiles.

The database named by BENCH_DATABASE_URL is dropped and created again at the start and dropped
at the end, so its name must contain "bench": a typo cannot point this at real data.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from farmstore import create_app
from farmstore.accounts.models import User
from farmstore.accounts.passwords import hash_password
from farmstore.catalog.services import create_product
from farmstore.config import normalise_database_url
from farmstore.extensions import db
from farmstore.producers.models import Producer
from farmstore.sales.models import Sale
from farmstore.sales.services import ItemSpec, create_pickup_point, create_sale
from farmstore.villages.models import Village

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/farmstore_bench"
PRODUCTS = [
    ("김장 배추", "3 포기", "vegetables", 18_000),
    ("배추김치", "2 kg", "preserves", 35_000),
    ("무", "1 개", "vegetables", 3_000),
    ("고춧가루", "500 g", "preserves", 22_000),
    ("쪽파", "1 단", "vegetables", 4_500),
]


def database_url() -> str:
    """The benchmark database (BENCH_DATABASE_URL), as SQLAlchemy spells it for psycopg 3."""
    url = make_url(normalise_database_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)))
    if url.get_backend_name() != "postgresql":
        raise SystemExit("The benchmarks need PostgreSQL: set BENCH_DATABASE_URL=postgresql://...")
    if "bench" not in (url.database or ""):
        raise SystemExit(f"Refusing to drop database {url.database!r}: a benchmark database's name contains 'bench'.")
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_database() -> Iterator[str]:
    """An empty benchmark database for the duration of the block; yields its URL."""
    url = make_url(database_url())
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))

    try:
        drop()
    except OperationalError as error:
        raise SystemExit(f"PostgreSQL is not reachable at {url.host}:{url.port}: {error.orig}") from None
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        drop()
        admin.dispose()


def bench_app(url: str, **settings) -> Flask:
    """The app on the benchmark database, with its schema created."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secrets.token_hex(16), **settings})
    with app.app_context():
        db.create_all()
    return app


def seed_sale(*, now: datetime, items: int, quantity: int, per_buyer_limit: int, buyers: int) -> tuple[int, list[int]]:
    """A producer with `items` products on one sale open at `now` (`quantity` of each), and
    `buyers` accounts. Returns the sale's id and the buyers' ids. Call in an app context."""
    password_hash = hash_password(secrets.token_urlsafe(12))  # slow on purpose, so once for everyone
    farmer = User(email="farmer@bench.example", display_name="김농부", password_hash=password_hash, locale="ko")
    village = Village(name="햇살마을", slug="bench-village", region="gangwon")
    producer = Producer(
        user=farmer, village=village, farm_name="햇살 배추밭", slug="bench-farm", about="배추를 키웁니다."
    )
    people = [
        User(email=f"buyer{n}@bench.example", display_name=f"구매자 {n}", password_hash=password_hash, locale="ko")
        for n in range(buyers)
    ]
    db.session.add_all([producer, *people])
    db.session.commit()
    sale_id = new_sale(producer, now=now, items=items, quantity=quantity, per_buyer_limit=per_buyer_limit)
    return sale_id, [person.id for person in people]


def new_sale(producer: Producer, *, now: datetime, items: int, quantity: int, per_buyer_limit: int) -> int:
    """Another sale by `producer`, open at `now`, of `items` newly listed products."""
    products = []
    for name, unit, category, _price in PRODUCTS[:items]:
        product = create_product(
            producer=producer, by=producer.user, name=name, unit=unit, category=category,
            description=f"{name}: 어제 수확했습니다. 서늘한 곳에 보관하세요.", now=now,
        )  # fmt: skip
        products.append(product)
    point = create_pickup_point(
        producer=producer, by=producer.user, name="망원시장 동문", address="서울 마포구 포은로 8길 14", area="마포구",
        directions="동문 앞 파란 트럭을 찾아 주세요.", now=now,
    )  # fmt: skip
    sale: Sale = create_sale(
        producer=producer, by=producer.user, title="토요일 망원시장 김장 배추", pickup_point_id=point.id,
        description="북쪽 밭에서 어제 뽑은 배추와 마을 김치입니다. **한 분당 두 망까지.**",
        opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=2),
        pickup_starts_at=now + timedelta(days=3), pickup_ends_at=now + timedelta(days=3, hours=2),
        items=[
            ItemSpec(product_id=product.id, price=price, quantity=quantity, per_buyer_limit=per_buyer_limit)
            for product, (_n, _u, _c, price) in zip(products, PRODUCTS, strict=False)
        ],
        now=now,
    )  # fmt: skip
    return sale.id


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
