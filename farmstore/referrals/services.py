"""Recommendation chains: share links, who arrived through whom, the chain recorded on every
purchase, endorsements, and the store credit recommenders earn.

Rules, in one place:
- A member has one share link per target (producer, subject, story, product, sale, group-buy).
- Opening a link attributes the visitor to it for ATTRIBUTION_DAYS; the last link opened for a
  producer wins. Opening one's own link does nothing. A visit counts once per visitor and day.
- A link made by someone attributed to another link of the same producer hangs from that link, so
  links form chains. Parents are older links, so there are no loops; a maker already in the chain
  above, or a parent already CHAIN_MAX_DEPTH deep, starts a chain of their own instead.
- A purchase records the chain of its buyer's attribution (closest recommender first), unless the
  buyer is in that chain: nobody is led to a purchase by themselves.
- A sale or group-buy may carry a reward (basis points of what was paid). Once the purchase is paid
  and handed over, it is split along the chain: each recommender further away gets
  REWARD_SPLIT_DECAY_PERCENT of the share of the one before (50: 4/7, 2/7, 1/7 for three people),
  whole won, the rounding remainder to the closest. Refunds take rewards back in proportion.
- For a purchase from a producer of a market (a village of kind "market") the reward is that
  market's gift certificate (상품권), valid GIFT_CERTIFICATE_DAYS: credit spendable only with the
  market's producers (see "Store credit" below).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from farmstore.errors import DomainError, NotAllowed
from farmstore.extensions import db
from farmstore.payments.signals import refund_completed
from farmstore.referrals.models import (
    Attribution,
    ChainEntry,
    CreditAccount,
    CreditCertificate,
    CreditEntry,
    Endorsement,
    LinkVisit,
    Referral,
    ShareLink,
)
from farmstore.timeutil import local_today

TOKEN_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # noqa: S105 (not a secret) — no 0/o, 1/l/i
TOKEN_LENGTH = 10  # 31^10 ≈ 8 × 10^14: not guessable, still short


@dataclass(frozen=True)
class Target:
    """What a share link points at, resolved to its producer, a title and its page."""

    kind: str
    id: int
    producer_id: int
    title: str
    endpoint: str
    args: dict

    @property
    def url(self) -> str:
        return url_for(self.endpoint, **self.args)


def _target_loaders():
    from farmstore.catalog.models import Product
    from farmstore.groupbuys.models import GroupBuy
    from farmstore.producers.models import Producer
    from farmstore.sales.models import Sale
    from farmstore.stories.models import StoryPost, Subject

    def producer(p):
        return p.id, p.farm_name, "producers.show", {"slug": p.slug}

    def subject(s):
        return s.producer_id, s.name, "stories.subject", {"producer_slug": s.producer.slug, "subject_slug": s.slug}

    def story(post):
        s = post.subject
        args = {"producer_slug": s.producer.slug, "subject_slug": s.slug, "post_id": post.id}
        return s.producer_id, post.title, "stories.post", args

    def product(p):
        return p.producer_id, p.name, "catalog.product", {"producer_slug": p.producer.slug, "product_slug": p.slug}

    def sale(s):
        return s.producer_id, s.title, "sales.show", {"sale_id": s.id}

    def groupbuy(g):
        return g.producer_id, g.title, "groupbuys.show", {"group_buy_id": g.id}

    return {
        "producer": (Producer, producer),
        "subject": (Subject, subject),
        "story": (StoryPost, story),
        "product": (Product, product),
        "sale": (Sale, sale),
        "groupbuy": (GroupBuy, groupbuy),
    }


def target_of(kind: str, target_id: int) -> Target | None:
    """The target a link points at, or None when the kind is unknown or the thing is gone."""
    loaders = _target_loaders()
    if kind not in loaders or not isinstance(target_id, int):
        return None
    model, describe = loaders[kind]
    row = db.session.get(model, target_id)
    if row is None:
        return None
    producer_id, title, endpoint, args = describe(row)
    return Target(kind, target_id, producer_id, title, endpoint, args)


def _new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def link_of(user, kind: str, target_id: int) -> ShareLink | None:
    """The member's existing link to a target, if they made one."""
    return db.session.scalar(
        select(ShareLink).where(
            ShareLink.user_id == user.id, ShareLink.target_kind == kind, ShareLink.target_id == target_id
        )
    )


def chain_of(link: ShareLink | None) -> list[ShareLink]:
    """The links from `link` up to the start of its chain, closest first: at most CHAIN_MAX_DEPTH
    rows read one by one, never a walk over the whole link graph."""
    chain: list[ShareLink] = []
    while link is not None and len(chain) < current_app.config["CHAIN_MAX_DEPTH"]:
        chain.append(link)
        link = link.parent
    return chain


def share(user, *, kind: str, target_id: int, now: datetime, show_name: bool | None = None) -> ShareLink:
    """The member's share link to a target: the one they have, or a new one hanging from the link
    that brought them to this producer. New links are limited per day (link farming)."""
    if user is None or not user.is_authenticated:
        raise NotAllowed(_l("Sign in to get your share link."))
    target = target_of(kind, target_id)
    if target is None:
        raise DomainError(_l("There is nothing to share here."))
    existing = link_of(user, kind, target_id)
    if existing is not None:
        if show_name is not None and existing.show_name != show_name:
            existing.show_name = show_name
            db.session.commit()
        return existing
    made_today = db.session.scalar(
        select(func.count())
        .select_from(ShareLink)
        .where(ShareLink.user_id == user.id, ShareLink.created_at > now - timedelta(days=1))
    )
    if made_today >= current_app.config["SHARE_LINKS_PER_DAY"]:
        raise DomainError(_l("You made many share links today. Please try again tomorrow."))
    parent = _parent_for(user, target.producer_id, now)
    link = ShareLink(
        token=_new_token(), user_id=user.id, producer_id=target.producer_id, target_kind=kind, target_id=target_id,
        parent=parent, depth=parent.depth + 1 if parent else 1, created_at=now,
        show_name=True if show_name is None else show_name,
    )  # fmt: skip
    db.session.add(link)
    try:
        db.session.commit()
    except IntegrityError:  # the same member's other tab made it a moment ago
        db.session.rollback()
        return link_of(user, kind, target_id)
    return link


def _parent_for(user, producer_id: int, now: datetime) -> ShareLink | None:
    """The link a new link of `user` hangs from: their attribution for this producer, unless they
    are already in that chain or it is as deep as chains go."""
    parent = attributed_link(user.id, producer_id, now)
    if parent is None or parent.depth >= current_app.config["CHAIN_MAX_DEPTH"]:
        return None
    if any(link.user_id == user.id for link in chain_of(parent)):
        return None
    return parent


@dataclass
class LinkStats:
    """What one share link brought: people who opened it, purchases it led to directly, and
    purchases further down the chains that started from it."""

    visitors: int
    direct: int
    further: int


def link_stats(link: ShareLink) -> LinkStats:
    """Two queries for one link."""
    visitors = db.session.scalar(
        select(func.count(func.distinct(LinkVisit.visitor))).where(LinkVisit.link_id == link.id)
    )
    direct, total = db.session.execute(
        select(
            func.coalesce(func.sum(case((ChainEntry.position == 1, 1), else_=0)), 0), func.count(ChainEntry.id)
        ).where(ChainEntry.link_id == link.id)
    ).one()
    return LinkStats(visitors=visitors, direct=direct, further=total - direct)


def link_by_token(token: str) -> ShareLink | None:
    """The link a token names; None for anything malformed or unknown (never an error)."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH or set(token) - set(TOKEN_ALPHABET):
        return None
    return db.session.scalar(select(ShareLink).where(ShareLink.token == token))


@dataclass(frozen=True)
class ShareGreeting:
    """What the friend who opened a share link sees on the page they land on: the sender's name
    (only if the sender agreed to show it) and the sender's public endorsement note, if any."""

    name: str | None
    note: str


def share_greeting(link_id: int) -> ShareGreeting | None:
    """The greeting for a share link: its sender's name by consent and their endorsement note of
    the shared product (or else of its producer). None when there is nothing to say."""
    link = db.session.get(ShareLink, link_id)
    if link is None or link.user is None:
        return None
    name = link.user.display_name if link.show_name else None
    endorsements = db.session.scalars(
        select(Endorsement).where(Endorsement.user_id == link.user_id, Endorsement.producer_id == link.producer_id)
    ).all()
    notes = {(e.target_kind, e.target_id): e.note for e in endorsements if e.note}
    note = notes.get((link.target_kind, link.target_id)) or next(
        (text for (kind, _id), text in notes.items() if kind == "producer"), ""
    )
    if not name and not note:
        return None
    return ShareGreeting(name=name, note=note)


def open_link(link: ShareLink, *, user, guest: str | None, now: datetime) -> bool:
    """Someone opened `link`: count the visit (once a day per visitor) and, for a member, make it
    their attribution for the producer. Guests' attribution is kept by the caller (the session).
    Returns False when the visitor opened their own link, which does nothing."""
    member = user is not None and user.is_authenticated
    if member and link.user_id == user.id:
        return False
    visitor = f"u{user.id}" if member else f"g{guest}"
    try:
        with db.session.begin_nested():
            db.session.add(
                LinkVisit(
                    link_id=link.id, producer_id=link.producer_id, visitor=visitor[:40],
                    day=local_today(now, current_app.config["BABEL_DEFAULT_TIMEZONE"]), created_at=now,
                )
            )  # fmt: skip
    except IntegrityError:
        pass  # counted already today
    if member:
        _attribute(user.id, link, arrived_at=now, now=now)
    db.session.commit()
    return True


def _attribute(user_id: int, link: ShareLink, *, arrived_at: datetime, now: datetime) -> None:
    """Make `link` the member's attribution for its producer if it is newer (caller commits)."""
    if link.user_id == user_id:
        return
    expires_at = arrived_at + timedelta(days=current_app.config["ATTRIBUTION_DAYS"])
    if expires_at <= now:
        return
    current = db.session.get(Attribution, (user_id, link.producer_id))
    if current is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    Attribution(
                        user_id=user_id, producer_id=link.producer_id, link_id=link.id,
                        arrived_at=arrived_at, expires_at=expires_at,
                    )
                )  # fmt: skip
            return
        except IntegrityError:  # a simultaneous visit wrote it first; the newer one wins below
            current = db.session.get(Attribution, (user_id, link.producer_id))
    if arrived_at >= current.arrived_at:
        current.link_id, current.arrived_at, current.expires_at = link.id, arrived_at, expires_at


def adopt_guest_attributions(user, arrivals: dict, *, now: datetime) -> int:
    """On sign-in or registration: the links the guest arrived through (from their session:
    {producer id: [link id, arrived at ISO]}) become the member's, where newer than theirs."""
    adopted = 0
    for link_id, arrived in (arrivals or {}).values():
        try:
            arrived_at = datetime.fromisoformat(arrived)
        except (TypeError, ValueError):
            continue
        link = db.session.get(ShareLink, link_id) if isinstance(link_id, int) else None
        if link is None or arrived_at.tzinfo is None or arrived_at > now:
            continue
        _attribute(user.id, link, arrived_at=arrived_at, now=now)
        adopted += 1
    db.session.commit()
    return adopted


def guest_arrival(link: ShareLink, *, now: datetime) -> tuple[str, list]:
    """What a guest's session keeps for a link they opened: (producer key, [link id, when])."""
    return str(link.producer_id), [link.id, now.isoformat()]


def attributed_link(user_id: int, producer_id: int, now: datetime) -> ShareLink | None:
    """The link that currently brings this member to this producer, if it has not expired."""
    attribution = db.session.get(Attribution, (user_id, producer_id))
    if attribution is None or attribution.expires_at <= now:
        return None
    return attribution.link


def record_chain(
    *, buyer, producer_id: int, now: datetime, order=None, pledge=None, sale_id=None, group_buy_id=None,
    reward_bps: int = 0,
) -> Referral | None:  # fmt: skip
    """Write the chain that led `buyer` to this order or pledge, in the caller's transaction (no
    commit). O(depth): the attribution's link and its parents. None when nobody led them here, or
    when the buyer is in the chain themselves."""
    with db.session.no_autoflush:  # the purchase is flushed with the commit that may refuse it
        link = attributed_link(buyer.id, producer_id, now)
        chain = chain_of(link)
    if not chain or any(step.user_id == buyer.id for step in chain):
        return None
    referral = Referral(
        order=order, pledge=pledge, producer_id=producer_id, sale_id=sale_id, group_buy_id=group_buy_id,
        buyer_id=buyer.id, link_id=link.id, length=len(chain), reward_bps=reward_bps, created_at=now,
    )  # fmt: skip
    seen = set()
    for step in chain:
        if step.user_id in seen:
            continue
        seen.add(step.user_id)
        referral.entries.append(
            ChainEntry(
                position=len(referral.entries) + 1, user_id=step.user_id, link_id=step.id, link_token=step.token,
                shared_at=step.created_at, show_name=step.show_name,
            )
        )  # fmt: skip
    referral.length = len(referral.entries)
    db.session.add(referral)
    return referral


def referral_for(*, order=None, pledge=None) -> Referral | None:
    """The chain recorded for an order or a pledge, if any."""
    column, value = (Referral.order_id, order.id) if order is not None else (Referral.pledge_id, pledge.id)
    return db.session.scalar(select(Referral).where(column == value))


# -- Rewards -------------------------------------------------------------------------------------


def checked_reward_bps(bps: int) -> int:
    """A reward a producer may offer: 0 to REWARD_MAX_BPS basis points."""
    limit = current_app.config["REWARD_MAX_BPS"]
    if not isinstance(bps, int) or not 0 <= bps <= limit:
        raise DomainError(
            _l("The recommendation reward must be between 0 and %(n)s%%.", n=limit / 100), field="reward_percent"
        )
    return bps


def split_reward(total: int, recipients: int, decay_percent: int) -> list[int]:
    """Split `total` won over `recipients` (closest first): each gets `decay_percent` % of the
    weight of the one before; whole won, the remainder to the closest. Sums to `total` exactly."""
    if recipients <= 0 or total <= 0:
        return [0] * max(recipients, 0)
    weights = [100**recipients]
    for _ in range(recipients - 1):
        weights.append(weights[-1] * decay_percent // 100)
    parts = [total * w // sum(weights) for w in weights]
    parts[0] += total - sum(parts)
    return parts


def _paid_for(referral: Referral) -> tuple[int, int | None]:
    """What was paid for the purchase and kept (after refunds), if it was handed over, and the
    payment to charge the reward to in the producer's ledger."""
    from farmstore.payments.models import Payment

    if referral.order_id is not None:
        handed_over = referral.order is not None and referral.order.status == "picked_up"
        where = Payment.order_id == referral.order_id
    else:
        handed_over = referral.pledge is not None and referral.pledge.picked_up_at is not None
        where = Payment.pledge_id == referral.pledge_id
    paid = db.session.scalars(select(Payment).where(where, Payment.status == "succeeded")).all()
    if not paid:
        return 0, None
    kept = sum(p.amount - p.refunded_amount for p in paid) if handed_over else 0
    return kept, paid[0].id


def settle_rewards(referral: Referral, *, now: datetime) -> int:
    """Bring the rewards of a purchase in line with what was paid and kept (caller commits): pay them
    when it is handed over, take them back in proportion to refunds. Safe to call any number of
    times, from any number of requests: each change is claimed by a conditional UPDATE first.
    Returns the change in won (positive paid out, negative taken back)."""
    from farmstore.payments.services import ledger_reward

    kept, payment_id = _paid_for(referral)
    target = kept * referral.reward_bps // 10_000
    before = referral.rewarded_amount
    if target == before or payment_id is None:
        return 0
    claimed = db.session.execute(
        update(Referral)
        .where(Referral.id == referral.id, Referral.rewarded_amount == before)
        .values(rewarded_amount=target)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount == 0:  # another request is settling this referral right now
        return 0
    decay = current_app.config["REWARD_SPLIT_DECAY_PERCENT"]
    entries = referral.entries
    old_parts = split_reward(before, len(entries), decay)
    new_parts = split_reward(target, len(entries), decay)
    market = market_of(referral.producer_id)
    moved = 0
    for entry, old, new in zip(entries, old_parts, new_parts, strict=True):
        if entry.user_id is None or new == old:
            continue  # a former member's share stays with the producer
        key = f"reward:{referral.id}:{entry.position}:{before}:{target}"
        if new > old:
            _give_reward(
                entry.user_id, new - old, market=market, key=key, now=now, referral_id=referral.id,
                producer_id=referral.producer_id,
            )  # fmt: skip
        else:
            _take_back_reward(
                entry.user_id, new - old, referral_id=referral.id, key=key, now=now, producer_id=referral.producer_id
            )
        moved += new - old
    if moved:
        ledger_reward(payment_id, amount=moved, key=f"reward:{referral.id}:{before}:{target}", now=now)
    db.session.expire(referral)
    return moved


def settle_rewards_of(*, order=None, pledge=None, now: datetime) -> int:
    """settle_rewards for a purchase's chain, if it has one (caller commits)."""
    referral = referral_for(order=order, pledge=pledge)
    return settle_rewards(referral, now=now) if referral else 0


# -- Store credit --------------------------------------------------------------------------------
#
# One ledger for all credit. A member has general credit (CreditAccount.balance) and may hold gift
# certificates of markets (CreditCertificate): credit with a scope (spendable only with the producers
# of that village) and an expiry. Every movement of either is a CreditEntry; every movement of a
# member's credit happens under the lock of their CreditAccount row, so nothing is spent twice.
# - Spending pays first from the certificates whose scope is the paid producer's village, soonest to
#   expire first, then from general credit.
# - A refund gives back where the payment took from, in the reverse order (general credit first, then
#   certificates, latest to expire first). A certificate that has expired by then is not revived: its
#   part comes back as a new certificate of the same market, valid GIFT_CERTIFICATE_DAYS from the refund.
# - After `expires_at` the tick writes one "expiry" entry taking what is left of a certificate.


def _certificates_for(user_id: int, producer_id: int, now: datetime):
    """The query for a member's certificates spendable with a producer now, soonest to expire first."""
    from farmstore.producers.models import Producer

    village = select(Producer.village_id).where(Producer.id == producer_id).scalar_subquery()
    return (
        select(CreditCertificate)
        .where(
            CreditCertificate.user_id == user_id,
            CreditCertificate.village_id == village,
            CreditCertificate.expires_at > now,
            CreditCertificate.expired_at.is_(None),
            CreditCertificate.remaining > 0,
        )
        .order_by(CreditCertificate.expires_at, CreditCertificate.id)
    )


def balance_of(user, *, producer_id: int | None = None, now: datetime | None = None) -> int:
    """A member's general store credit in won; with `producer_id` (and `now`), everything they can
    spend with that producer: general credit plus the gift certificates of the producer's market."""
    general = db.session.scalar(select(CreditAccount.balance).where(CreditAccount.user_id == user.id)) or 0
    if producer_id is None:
        return general
    scoped = _certificates_for(user.id, producer_id, now).subquery()
    return general + db.session.scalar(select(func.coalesce(func.sum(scoped.c.remaining), 0)))


def claim_balance(user, *, producer_id: int | None = None, now: datetime | None = None) -> int:
    """balance_of, read under the member's account lock held until the caller's transaction ends, so
    what a checkout decides to spend is still there when it spends it."""
    _lock_account(user.id)
    return balance_of(user, producer_id=producer_id, now=now)


def spendable_with(user, *, producer_id: int, now: datetime) -> tuple[int, list[CreditCertificate]]:
    """What a checkout offers: the member's general credit and their certificates valid with this
    producer (soonest to expire first)."""
    general = balance_of(user)
    certificates = list(db.session.scalars(_certificates_for(user.id, producer_id, now)))
    return general, certificates


def certificates_of(user, *, now: datetime, limit: int = 20) -> list[CreditCertificate]:
    """A member's latest gift certificates: those with credit left first (soonest to expire first),
    then the used up and expired ones, newest first."""
    rows = db.session.scalars(
        select(CreditCertificate)
        .where(CreditCertificate.user_id == user.id)
        .order_by(CreditCertificate.id.desc())
        .options(selectinload(CreditCertificate.village))
        .limit(limit)
    ).all()
    live = sorted((c for c in rows if c.remaining and not c.is_expired(now)), key=lambda c: (c.expires_at, c.id))
    ids = {c.id for c in live}
    return live + [c for c in rows if c.id not in ids]


def certificate_spends(*, order=None, pledge=None) -> list[tuple[CreditCertificate, int]]:
    """What gift certificates paid of an order or a pledge (as spent, refunds aside): (certificate, won)."""
    from farmstore.payments.models import Payment

    where = Payment.order_id == order.id if order is not None else Payment.pledge_id == pledge.id
    rows = db.session.execute(
        select(CreditEntry.certificate_id, func.sum(CreditEntry.amount))
        .join(Payment, Payment.id == CreditEntry.payment_id)
        .where(where, CreditEntry.kind == "spend", CreditEntry.certificate_id.is_not(None))
        .group_by(CreditEntry.certificate_id)
        .order_by(CreditEntry.certificate_id)
    ).all()
    return [(db.session.get(CreditCertificate, cid), -spent) for cid, spent in rows]


def credit_history(user, *, limit: int = 50) -> list[CreditEntry]:
    """A member's credit movements, newest first."""
    return list(
        db.session.scalars(
            select(CreditEntry)
            .where(CreditEntry.user_id == user.id)
            .order_by(CreditEntry.id.desc())
            .options(selectinload(CreditEntry.certificate).selectinload(CreditCertificate.village))
            .limit(limit)
        )
    )


def certificate_expiry(now: datetime) -> datetime:
    """When a certificate issued at `now` expires: at the end of the local day GIFT_CERTIFICATE_DAYS
    later, so it is valid through that whole day."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    last_day = local_today(now, str(zone)) + timedelta(days=current_app.config["GIFT_CERTIFICATE_DAYS"])
    return datetime.combine(last_day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)


def market_of(producer_id: int) -> int | None:
    """The village id of a producer's market, or None when the producer is not at a market."""
    from farmstore.producers.models import Producer
    from farmstore.villages.models import Village

    return db.session.scalar(
        select(Village.id)
        .join(Producer, Producer.village_id == Village.id)
        .where(Producer.id == producer_id, Village.kind == "market")
    )


def _lock_account(user_id: int) -> int:
    """Open the member's account if needed, lock its row until the caller's transaction ends and
    return the general balance (a no-op UPDATE takes PostgreSQL's row lock and SQLite's write lock)."""
    if db.session.get(CreditAccount, user_id) is None:
        try:
            with db.session.begin_nested():
                db.session.add(CreditAccount(user_id=user_id, balance=0))
        except IntegrityError:
            pass  # opened by a simultaneous movement
    db.session.execute(
        update(CreditAccount)
        .where(CreditAccount.user_id == user_id)
        .values(balance=CreditAccount.balance)
        .execution_options(synchronize_session=False)
    )
    return db.session.scalar(select(CreditAccount.balance).where(CreditAccount.user_id == user_id).with_for_update())


def _key_seen(key: str) -> bool:
    return db.session.scalar(select(CreditEntry.id).where(CreditEntry.key == key)) is not None


def _move_credit(
    user_id: int, amount: int, *, kind: str, key: str, now: datetime, strict: bool = False,
    certificate: CreditCertificate | None = None, **refs,
) -> CreditEntry | None:  # fmt: skip
    """Add (or take) credit and explain it with an entry (caller commits): general credit, or with
    `certificate` that certificate's. The account row is locked, so the balance and `balance_after`
    are exact. Taking more than is left: with `strict` (spending) it is refused; otherwise (a
    reversal, an expiry) only what is left is taken. A key seen before changes nothing."""
    if _key_seen(key):
        return None
    balance = _lock_account(user_id)
    if certificate is not None:
        balance = db.session.scalar(select(CreditCertificate.remaining).where(CreditCertificate.id == certificate.id))
    moved = amount if amount >= 0 else -min(-amount, balance)
    if strict and moved != amount:
        raise DomainError(_l("You do not have that much store credit."), field="credit")
    target = CreditAccount if certificate is None else CreditCertificate
    column = CreditAccount.balance if certificate is None else CreditCertificate.remaining
    where = CreditAccount.user_id == user_id if certificate is None else CreditCertificate.id == certificate.id
    db.session.execute(
        update(target).where(where).values({column: column + moved}).execution_options(synchronize_session=False)
    )
    entry = CreditEntry(
        key=key, user_id=user_id, kind=kind, amount=moved, intended=amount, balance_after=balance + moved,
        created_at=now, certificate_id=certificate.id if certificate else None, **refs,
    )  # fmt: skip
    db.session.add(entry)
    db.session.flush()
    if certificate is not None:
        db.session.expire(certificate, ["remaining"])
    return entry


def _issue_certificate(
    user_id: int, amount: int, *, village_id: int, kind: str, key: str, now: datetime, **refs
) -> CreditEntry | None:  # fmt: skip
    """A new gift certificate of a market holding `amount` (caller commits); once per key."""
    if _key_seen(key):
        return None
    _lock_account(user_id)
    certificate = CreditCertificate(
        user_id=user_id, village_id=village_id, remaining=0, expires_at=certificate_expiry(now), created_at=now
    )
    db.session.add(certificate)
    db.session.flush()
    return _move_credit(user_id, amount, kind=kind, key=key, now=now, certificate=certificate, **refs)


def _give_reward(user_id: int, amount: int, *, market: int | None, key: str, now: datetime, **refs) -> None:
    """A recommender's reward: general credit, or for a purchase at a market that market's gift
    certificate (caller commits)."""
    if market is None:
        _move_credit(user_id, amount, kind="reward", key=key, now=now, **refs)
    else:
        _issue_certificate(user_id, amount, village_id=market, kind="reward", key=key, now=now, **refs)


def _take_back_reward(user_id: int, amount: int, *, referral_id: int, key: str, now: datetime, **refs) -> None:
    """Take back `-amount` of a reward (caller commits): from the certificates it was issued as
    (latest first, each at most what it still owes of this reward, and no more than it has left, as
    with general credit), then from general credit."""
    want = -amount
    owed = db.session.execute(
        select(CreditEntry.certificate_id, func.sum(CreditEntry.intended))
        .where(
            CreditEntry.user_id == user_id,
            CreditEntry.referral_id == referral_id,
            CreditEntry.certificate_id.is_not(None),
            CreditEntry.kind.in_(("reward", "reward_reversal")),
        )
        .group_by(CreditEntry.certificate_id)
        .order_by(CreditEntry.certificate_id.desc())
    ).all()
    for certificate_id, still_owed in owed:
        ask = min(want, still_owed)
        if ask <= 0:
            continue
        certificate = db.session.get(CreditCertificate, certificate_id)
        _move_credit(
            user_id, -ask, kind="reward_reversal", key=f"{key}:c{certificate_id}", now=now, certificate=certificate,
            referral_id=referral_id, **refs,
        )  # fmt: skip
        want -= ask
    if want:
        _move_credit(user_id, -want, kind="reward_reversal", key=key, now=now, referral_id=referral_id, **refs)


def spend_credit(payment, *, now: datetime) -> None:
    """Take a credit payment's amount from its buyer (caller commits; refuses overdraft): first the
    gift certificates of the paid producer's market, soonest to expire first, then general credit.
    Replaying it for the same payment changes nothing."""
    if db.session.scalar(
        select(CreditEntry.id).where(CreditEntry.payment_id == payment.id, CreditEntry.kind == "spend").limit(1)
    ):
        return
    refs = {"payment_id": payment.id, "producer_id": payment.producer_id}
    _lock_account(payment.buyer_id)
    left = payment.amount
    for certificate in db.session.scalars(
        _certificates_for(payment.buyer_id, payment.producer_id, now).execution_options(populate_existing=True)
    ).all():
        take = min(left, certificate.remaining)
        _move_credit(
            payment.buyer_id, -take, kind="spend", key=f"spend:{payment.id}:c{certificate.id}", now=now,
            strict=True, certificate=certificate, **refs,
        )  # fmt: skip
        left -= take
        if not left:
            return
    _move_credit(payment.buyer_id, -left, kind="spend", key=f"spend:{payment.id}", now=now, strict=True, **refs)


def return_credit(refund, *, now: datetime) -> None:
    """A refund of a credit payment goes back as credit where the payment took it from (caller
    commits): general credit first, then its certificates, latest to expire first, each at most what
    the payment took from it. A certificate that has expired comes back as a new one of the same
    market (valid GIFT_CERTIFICATE_DAYS from now)."""
    payment = refund.payment
    key = f"refund:{refund.id}"
    if db.session.scalar(
        select(CreditEntry.id).where(CreditEntry.payment_id == payment.id, CreditEntry.key.like(f"{key}%")).limit(1)
    ):
        return
    refs = {"payment_id": payment.id, "producer_id": payment.producer_id}
    _lock_account(payment.buyer_id)
    entries = db.session.scalars(select(CreditEntry).where(CreditEntry.payment_id == payment.id)).all()
    returned_before = sum(e.amount for e in entries if e.kind == "spend_refund")
    taken: dict[int | None, int] = {}
    for entry in entries:
        if entry.kind == "spend":
            taken[entry.certificate_id] = taken.get(entry.certificate_id, 0) - entry.amount
    certificates = sorted(
        (db.session.get(CreditCertificate, cid) for cid in taken if cid is not None),
        key=lambda c: (c.expires_at, c.id), reverse=True,
    )  # fmt: skip
    left = refund.amount
    for certificate in [None, *certificates]:
        capacity = taken.get(certificate.id if certificate else None, 0)
        skipped = min(returned_before, capacity)  # already given back by earlier refunds
        returned_before -= skipped
        give = min(left, capacity - skipped)
        if give <= 0:
            continue
        if certificate is None:
            _move_credit(payment.buyer_id, give, kind="spend_refund", key=key, now=now, **refs)
        elif certificate.is_expired(now):
            _issue_certificate(
                payment.buyer_id, give, village_id=certificate.village_id, kind="spend_refund",
                key=f"{key}:c{certificate.id}", now=now, **refs,
            )  # fmt: skip
        else:
            _move_credit(
                payment.buyer_id, give, kind="spend_refund", key=f"{key}:c{certificate.id}", now=now,
                certificate=certificate, **refs,
            )  # fmt: skip
        left -= give
        if not left:
            return
    if left and payment.provider != "credit":  # refunded as credit though paid otherwise (an unused deal coupon)
        _move_credit(payment.buyer_id, left, kind="spend_refund", key=key, now=now, **refs)


def grant_credit(user, *, amount: int, key: str, now: datetime, market_id: int | None = None) -> None:
    """A gift of credit from farmstore (demo, goodwill), or with `market_id` a gift certificate of
    that market; commits."""
    if market_id is None:
        _move_credit(user.id, amount, kind="grant", key=key, now=now)
    else:
        _issue_certificate(user.id, amount, village_id=market_id, kind="grant", key=key, now=now)
    db.session.commit()


def expire_certificates(*, now: datetime, batch: int = 500) -> int:
    """Tick: every certificate past its expiry gets one "expiry" entry taking what is left, and is
    marked expired (claimed by a conditional UPDATE under the member's account lock, so running it
    twice, or two ticks at once, writes it once). Returns how many certificates expired."""
    due = db.session.execute(
        select(CreditCertificate.id, CreditCertificate.user_id)
        .where(CreditCertificate.expires_at <= now, CreditCertificate.expired_at.is_(None))
        .order_by(CreditCertificate.id)
        .limit(batch)
    ).all()
    expired = 0
    for certificate_id, user_id in due:
        _lock_account(user_id)  # the same lock order as spending: account, then certificate
        claimed = db.session.execute(
            update(CreditCertificate)
            .where(CreditCertificate.id == certificate_id, CreditCertificate.expired_at.is_(None))
            .values(expired_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount:
            certificate = db.session.get(CreditCertificate, certificate_id, populate_existing=True)
            if certificate.remaining:
                _move_credit(
                    user_id, -certificate.remaining, kind="expiry", key=f"expiry:{certificate_id}", now=now,
                    certificate=certificate,
                )  # fmt: skip
            expired += 1
        db.session.commit()
    return expired


# -- Endorsements --------------------------------------------------------------------------------

ENDORSEMENT_NOTE_MAX = 280


def endorse(user, *, kind: str, target_id: int, note: str, now: datetime) -> Endorsement:
    """Publicly recommend a producer or a product (once; recommending again updates the note).
    A producer cannot recommend themselves or their own products."""
    if kind not in ("producer", "product"):
        raise DomainError(_l("Only producers and products can be recommended."))
    target = target_of(kind, target_id)
    if target is None:
        raise DomainError(_l("There is nothing to recommend here."))
    if user.producer is not None and user.producer.id == target.producer_id:
        raise DomainError(_l("You cannot recommend your own farm."))
    note = (note or "").strip()
    if len(note) > ENDORSEMENT_NOTE_MAX:
        raise DomainError(_l("Keep your note under %(n)d characters.", n=ENDORSEMENT_NOTE_MAX), field="note")
    existing = db.session.scalar(
        select(Endorsement).where(
            Endorsement.user_id == user.id, Endorsement.target_kind == kind, Endorsement.target_id == target_id
        )
    )
    if existing is None:
        existing = Endorsement(
            user_id=user.id, producer_id=target.producer_id, target_kind=kind, target_id=target_id, created_at=now
        )
        db.session.add(existing)
    existing.note = note
    try:
        db.session.commit()
    except IntegrityError:  # a second tab endorsed at the same moment
        db.session.rollback()
    return existing


def withdraw_endorsement(user, *, kind: str, target_id: int) -> None:
    """Stop recommending something."""
    endorsement = db.session.scalar(
        select(Endorsement).where(
            Endorsement.user_id == user.id, Endorsement.target_kind == kind, Endorsement.target_id == target_id
        )
    )
    if endorsement is not None:
        db.session.delete(endorsement)
        db.session.commit()


@dataclass
class Recommendations:
    """What a page shows about who recommends its producer or product."""

    count: int
    mine: Endorsement | None
    known: list[tuple[Endorsement, str]]  # endorsements the viewer has a reason to trust, and why
    recent: list[Endorsement]


def recommendations(kind: str, target_id: int, *, viewer, producer_id: int, now: datetime) -> Recommendations:
    """How many recommend a target; the viewer's own recommendation; and those the viewer knows:
    the people who shared this producer with them (by name only with their consent), and
    producers they follow. Three queries whatever the number of endorsements."""
    from farmstore.producers.models import Producer
    from farmstore.regulars.models import Follow

    where = (Endorsement.target_kind == kind, Endorsement.target_id == target_id)
    count = db.session.scalar(select(func.count()).select_from(Endorsement).where(*where))
    recent = list(db.session.scalars(select(Endorsement).where(*where).order_by(Endorsement.id.desc()).limit(5)))
    mine, known = None, []
    if viewer is not None and viewer.is_authenticated and count:
        brought_by = {link.user_id for link in chain_of(attributed_link(viewer.id, producer_id, now)) if link.show_name}
        followed = (
            select(Producer.user_id).join(Follow, Follow.producer_id == Producer.id).where(Follow.user_id == viewer.id)
        )
        rows = db.session.scalars(
            select(Endorsement).where(
                *where,
                (Endorsement.user_id == viewer.id)
                | Endorsement.user_id.in_(brought_by or {0})
                | Endorsement.user_id.in_(followed),
            )
        )
        for endorsement in rows:
            if endorsement.user_id == viewer.id:
                mine = endorsement
            elif endorsement.user_id in brought_by:
                known.append((endorsement, "shared"))
            else:
                known.append((endorsement, "followed"))
    return Recommendations(count=count, mine=mine, known=known, recent=recent)


@refund_completed.connect
def _take_back_rewards(_sender, refund, now: datetime, **_extra) -> None:
    """A refund of a purchase with a recorded chain takes its rewards back in proportion."""
    payment = refund.payment
    if payment.order_id is not None:
        settle_rewards_of(order=payment.order, now=now)
    elif payment.pledge_id is not None:
        settle_rewards_of(pledge=payment.pledge, now=now)
