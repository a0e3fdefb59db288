"""Insight benchmark: how the recommendation pages' cost grows with a producer's visits and orders.

For each size (1,000, 10,000 and 100,000 link visits by default) a producer gets a sale, a
group-buy and a tenth as many purchases as visits (nine in ten orders, one in ten pledges, each
by a buyer of its own), all in the same database, so the bigger producers sit beside the smaller
ones as they would in production. Rows are bulk-inserted, not made through the services:
- share links, one per 20 visits, by members of their own; three in four hang from an earlier
  link of the same producer (chains up to 10 deep, as CHAIN_MAX_DEPTH allows), pointing at the
  sale (70 %), the group-buy (20 %) or the farm's page;
- visits spread over the links and 30 days, by guests and by the buyers;
- purchases, 60 % of them with a Referral and the ChainEntries of their link's chain.
Then each insight service runs a few times (median, after a warm-up), and each page is fetched
through the test client signed in as its owner (the producer; the member who shared most).

    python -m bench.referrals [--sizes 1000 10000 100000] [--runs 5]

Prints milliseconds per service and per page, and the SQL statements per page. Asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import time
from datetime import date, timedelta

from sqlalchemy import event, func, insert, select, text

from bench.common import bench_app, fresh_database, new_sale
from farmstore.accounts.models import User
from farmstore.accounts.passwords import hash_password
from farmstore.extensions import db
from farmstore.groupbuys import services as groupbuys
from farmstore.groupbuys.models import Pledge
from farmstore.producers.models import Producer
from farmstore.referrals import insight
from farmstore.referrals.models import ChainEntry, LinkVisit, Referral, ShareLink
from farmstore.sales.models import Order, Sale
from farmstore.sales.services import create_pickup_point
from farmstore.stories.services import create_subject
from farmstore.timeutil import utcnow
from farmstore.villages.models import Village

LINK_EVERY = 20  # visits per share link
REFERRED_PERCENT = 60
PRICE = 18_000


def next_id(model) -> int:
    """The id after the highest in use: rows are inserted with their ids, so links can name parents."""
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def resync_sequences(*models) -> None:
    """Move the id sequences past the ids inserted by hand, so the services can insert again."""
    for model in models:
        table = model.__tablename__
        db.session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608 (our table names)
        )


def seed_producer(n: int, *, now, password_hash: str) -> tuple[int, int, int]:
    """A producer with an open sale and an open group-buy (through the services). Returns the ids
    of the producer, the sale and the group-buy."""
    farmer = User(email=f"farmer{n}@bench.example", display_name=f"농부 {n}", password_hash=password_hash)
    village = Village(name=f"햇살마을 {n}", slug=f"bench-village-{n}", region="gangwon")
    producer = Producer(user=farmer, village=village, farm_name=f"햇살 배추밭 {n}", slug=f"bench-farm-{n}", about=".")
    db.session.add(producer)
    db.session.commit()
    sale_id = new_sale(producer, now=now, items=1, quantity=1_000_000, per_buyer_limit=5)
    subject = create_subject(
        producer=producer, by=farmer, kind="field", name="북쪽 배추밭", started_on=date(2024, 8, 20),
        breed="김장 배추", location="강원 평창", description="김장 배추.", now=now,
    )  # fmt: skip
    point = create_pickup_point(
        producer=producer, by=farmer, name="망원시장 서문", address="서울 마포구", area="마포구", now=now
    )
    deadline = now + timedelta(days=20)
    group_buy = groupbuys.create_group_buy(
        producer=producer, by=farmer, subject_id=subject.id, title="북쪽 밭 함께 사기", story=".",
        unit_label="한 망", unit_price=PRICE, total_units=1_000_000, min_units=10, per_buyer_max=2, deadline=deadline,
        pickup_point_id=point.id, pickup_starts_at=deadline + timedelta(days=3),
        pickup_ends_at=deadline + timedelta(days=3, hours=3), now=now,
    )  # fmt: skip
    groupbuys.open_group_buy(group_buy, by=farmer, now=now)
    return producer.id, sale_id, group_buy.id


def new_users(count: int, prefix: str, *, now, password_hash: str) -> list[int]:
    first = next_id(User)
    db.session.execute(
        insert(User),
        [
            {"id": first + k, "email": f"{prefix}{first + k}@bench.example", "display_name": f"이웃 {first + k}",
             "password_hash": password_hash, "locale": "ko", "created_at": now, "password_changed_at": now}
            for k in range(count)
        ],
    )  # fmt: skip
    return list(range(first, first + count))


def seed_recommendations(visits: int, *, now, password_hash: str, rng: random.Random) -> dict:
    """One producer's links, visits and purchases (see the module docstring)."""
    producer_id, sale_id, group_buy_id = seed_producer(visits, now=now, password_hash=password_hash)
    purchases = visits // 10
    makers = new_users(visits // LINK_EVERY, "maker", now=now, password_hash=password_hash)
    buyers = new_users(purchases, "buyer", now=now, password_hash=password_hash)

    first_link = next_id(ShareLink)
    links = []  # (id, parent id, depth, maker)
    for k, maker in enumerate(makers):
        parent = links[rng.randrange(k)] if k and rng.random() < 0.75 else None
        if parent is not None and parent[2] >= 10:
            parent = None
        links.append((first_link + k, parent[0] if parent else None, parent[2] + 1 if parent else 1, maker))
    kinds = [("sale", sale_id), ("groupbuy", group_buy_id), ("producer", producer_id)]
    targets = rng.choices(kinds, [70, 20, 10], k=len(links))
    db.session.execute(
        insert(ShareLink),
        [
            {"id": link_id, "token": secrets.token_hex(5), "user_id": maker, "producer_id": producer_id,
             "target_kind": kind, "target_id": target_id, "parent_id": parent_id, "depth": depth,
             "show_name": rng.random() < 0.7, "created_at": now - timedelta(days=40)}
            for (link_id, parent_id, depth, maker), (kind, target_id) in zip(links, targets, strict=True)
        ],
    )  # fmt: skip
    seen = set()
    rows = []
    while len(rows) < visits:
        link_id = links[rng.randrange(len(links))][0]
        who = f"u{rng.choice(buyers)}" if rng.random() < 0.3 else f"g{rng.randrange(visits * 2)}"
        day = rng.randrange(30)
        if (link_id, who, day) not in seen:
            seen.add((link_id, who, day))
            when = now - timedelta(days=day)
            rows.append(dict(link_id=link_id, producer_id=producer_id, visitor=who, day=when.date(), created_at=when))
    db.session.execute(insert(LinkVisit), rows)

    by_id = {link[0]: link for link in links}
    first_order, first_pledge, first_referral = next_id(Order), next_id(Pledge), next_id(Referral)
    orders, pledges, referrals, entries = [], [], [], []
    for k, buyer in enumerate(buyers):
        common = {"buyer_id": buyer, "pickup_code": f"{k:08d}", "created_at": now}
        if k % 10:
            orders.append(
                dict(id=first_order + len(orders), sale_id=sale_id, status="confirmed", total=PRICE, currency="KRW",
                     payment_method="pickup", checkout_key=f"bench-{k}", **common)
            )  # fmt: skip
            purchase = {"order_id": orders[-1]["id"], "sale_id": sale_id}
        else:
            pledges.append(
                dict(id=first_pledge + len(pledges), group_buy_id=group_buy_id, units=1, status="active",
                     payment_method="pickup", show_name=False, updated_at=now, **common)
            )  # fmt: skip
            purchase = {"pledge_id": pledges[-1]["id"], "group_buy_id": group_buy_id}
        if rng.randrange(100) >= REFERRED_PERCENT:
            continue
        link = by_id[links[rng.randrange(len(links))][0]]
        chain = []
        while link is not None and len(chain) < 10:
            chain.append(link)
            link = by_id.get(link[1])
        referral_id = first_referral + len(referrals)
        referrals.append(
            dict(id=referral_id, producer_id=producer_id, buyer_id=buyer, link_id=chain[0][0], length=len(chain),
                 reward_bps=0, rewarded_amount=0, created_at=now, **purchase)
        )  # fmt: skip
        entries.extend(
            {"referral_id": referral_id, "position": position, "user_id": step[3], "link_id": step[0],
             "link_token": "bench", "shared_at": now - timedelta(days=40), "show_name": True}
            for position, step in enumerate(chain, start=1)
        )  # fmt: skip
    for model, values in ((Order, orders), (Pledge, pledges), (Referral, referrals), (ChainEntry, entries)):
        if values:
            db.session.execute(insert(model), values)
    resync_sequences(User, ShareLink, Order, Pledge, Referral)
    db.session.commit()
    top = db.session.scalar(
        select(ChainEntry.user_id).group_by(ChainEntry.user_id).order_by(func.count().desc()).limit(1)
        .where(ChainEntry.referral_id >= first_referral)
    )  # fmt: skip
    return {"producer": producer_id, "sale": sale_id, "group_buy": group_buy_id, "member": top,
            "visits": visits, "purchases": purchases, "links": len(links), "entries": len(entries)}  # fmt: skip


def median_ms(run, runs: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(app, seeded: dict, runs: int) -> list[tuple[str, float, float, int]]:
    """(page, service ms, page ms, SQL statements per page) for the four insight pages."""
    with app.app_context():
        producer = db.session.get(Producer, seeded["producer"])
        slug, owner = producer.slug, producer.user_id
        pages = [
            ("farm", owner, f"/producers/{slug}/recommendations",
             lambda: insight.producer_insight(db.session.get(Producer, seeded["producer"]))),
            ("sale", owner, f"/sales/{seeded['sale']}/recommendations",
             lambda: insight.sale_insight(db.session.get(Sale, seeded["sale"]))),
            ("group-buy", owner, f"/group-buys/{seeded['group_buy']}/recommendations",
             lambda: insight.group_buy_insight(db.session.get(groupbuys.GroupBuy, seeded["group_buy"]))),
            ("member", seeded["member"], "/me/recommendations",
             lambda: insight.my_insight(db.session.get(User, seeded["member"]))),
        ]  # fmt: skip
    figures = []
    for name, user_id, path, service in pages:
        with app.test_request_context():
            service_ms = median_ms(service, runs)
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"], session["_fresh"] = str(user_id), True
        statements = []

        def count(*_args, statements=statements) -> None:
            statements.append(1)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        response = client.get(path)
        event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200, (path, response.status_code)
        page_ms = median_ms(lambda path=path, client=client: client.get(path), runs)
        figures.append((name, service_ms, page_ms, len(statements)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="link visits")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    rng = random.Random(7)  # noqa: S311 (made-up data, not secrets)
    now = utcnow()
    with fresh_database() as url:
        app = bench_app(url, RATELIMIT_ENABLED=False)
        password_hash = hash_password(secrets.token_urlsafe(12))
        seeded = []
        for visits in options.sizes:
            with app.app_context():
                start = time.perf_counter()
                seeded.append(seed_recommendations(visits, now=now, password_hash=password_hash, rng=rng))
                print(f"seeded {visits:,} visits in {time.perf_counter() - start:.1f} s: {seeded[-1]}", flush=True)
        with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum would have done by the time anyone looks
        print(f"\nms per insight page, median of {options.runs}: the service / the whole page (SQL statements)")
        header = f"{'visits':>8} {'orders':>7} {'links':>6}"
        rows = []
        for figures in (measure(app, one, options.runs) for one in seeded):
            rows.append(figures)
        names = [name for name, *_ in rows[0]]
        print(header + "".join(f" {name:>18}" for name in names))
        for one, figures in zip(seeded, rows, strict=True):
            cells = "".join(f" {f'{s:.1f} / {p:.1f} ({n})':>18}" for _name, s, p, n in figures)
            print(f"{one['visits']:>8,} {one['purchases']:>7,} {one['links']:>6,}{cells}")


if __name__ == "__main__":
    main()
