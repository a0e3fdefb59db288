"""Market deal rules. A deal is a group-buy of coupons: buying coupons is pledging, the deal tips
when its minimum is pledged, and the group-buy settlement (`settle_due_group_buys`) decides it
once at the tipping deadline and settles every pledge. On top of that, the tick drops scheduled
deals at their drop time (and tells the market's followers), issues coupons to every settled
pledge of a tipped deal (once: one row per pledged unit, unique), and settles coupons nobody
redeemed by the unredeemed policy. A coupon is redeemed once, by one conditional UPDATE.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from farmstore.deals.models import Coupon, Deal, Stall
from farmstore.errors import DomainError, NotAllowed, NotFound
from farmstore.extensions import db
from farmstore.groupbuys import services as groupbuys
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.i18n import format_money, format_when
from farmstore.notifications.channels import notify
from farmstore.payments import services as payments
from farmstore.payments.models import LedgerEntry, Payment
from farmstore.producers.models import Producer
from farmstore.regulars.models import Follow
from farmstore.sales.services import PICKUP_CODE_ALPHABET
from farmstore.timeutil import local_to_utc, local_today
from farmstore.urls import external_url
from farmstore.villages.models import Village

COUPON_CODE_LENGTH = 8
UNREDEEMED_POLICIES = ("stall", "refund")


def _zone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def market_today(now: datetime) -> date:
    """Today's date at the markets (Asia/Seoul)."""
    return local_today(now, _zone())


def _at(day: date, moment: time) -> datetime:
    return local_to_utc(datetime.combine(day, moment), _zone())


# ---------------------------------------------------------------- stalls


def may_manage(user, producer: Producer) -> bool:
    """The stall's owner, the market's active evangelist, or an operator."""
    from farmstore.evangelists.services import helps

    if user is None or not user.is_authenticated:
        return False
    return producer.is_owned_by(user) or user.is_operator or helps(user, producer)


def may_redeem(user, producer: Producer) -> bool:
    """Only the stall's owner (and an operator) takes coupons at the stall."""
    return user is not None and user.is_authenticated and (producer.is_owned_by(user) or user.is_operator)


def stall_of(producer: Producer) -> Stall | None:
    return db.session.get(Stall, producer.id)


def get_stall_producer(slug: str) -> Producer:
    """The producer of a market village behind the stall page `slug`."""
    producer = db.session.scalar(select(Producer).where(Producer.slug == slug).options(selectinload(Producer.village)))
    if producer is None or producer.village.kind != "market":
        raise NotFound(_l("No such stall."))
    return producer


def save_stall(
    *, producer: Producer, by, number: str, location: str, opens_at: time, closes_at: time, now: datetime
) -> Stall:
    """Set where a market producer's stall is and when it is open (creating the stall the first
    time). Onboarding: the market's evangelist invites the merchant with the ordinary
    invitation, then either of them (or an operator) fills this in."""
    if not may_manage(by, producer):
        raise NotAllowed(_l("Only the stall, the market's evangelist or an operator can change this."))
    if producer.village.kind != "market":
        raise DomainError(_l("Only a producer of a market can have a stall."))
    number, location = (number or "").strip(), (location or "").strip()
    if not number and not location:
        raise DomainError(_l("Give the stall number or say where it is in the market."), field="number")
    if opens_at is None or closes_at is None or opens_at >= closes_at:
        raise DomainError(_l("The stall must close after it opens."), field="closes_at")
    stall = stall_of(producer) or Stall(producer_id=producer.id)
    stall.number, stall.location = number[:20], location[:120]
    stall.opens_at, stall.closes_at, stall.updated_at = opens_at, closes_at, now
    db.session.add(stall)
    db.session.commit()
    return stall


def stalls_of(village: Village) -> list[tuple[Producer, Stall]]:
    rows = db.session.execute(
        select(Producer, Stall)
        .join(Stall, Stall.producer_id == Producer.id)
        .where(Producer.village_id == village.id)
        .order_by(Stall.number, Producer.farm_name)
    ).all()
    return [tuple(row) for row in rows]


# ---------------------------------------------------------------- deals


def create_deal(
    *, producer: Producer, by, title: str, day: date, drop_time: time, deadline_time: time, price: int,
    face_value: int | None, item: str, min_coupons: int, cap: int, per_buyer: int, redeem_days: int,
    story: str = "", now: datetime,
) -> Deal:  # fmt: skip
    """Schedule a stall's deal for one day of its market: it drops at `drop_time`, tips if
    `min_coupons` are bought by `deadline_time` (same day), never sells more than `cap`, and its
    coupons are good at the stall from the deadline until closing time `redeem_days` days after
    the deal's day (0: the same day). One deal per market and day, checked here and enforced by
    the database."""
    if not may_manage(by, producer):
        raise NotAllowed(_l("Only the stall, the market's evangelist or an operator can change this."))
    stall = stall_of(producer)
    if stall is None or producer.village.kind != "market":
        raise DomainError(_l("Set up the stall (number and opening hours) before planning a deal."))
    title, item = (title or "").strip(), (item or "").strip()
    if not title:
        raise DomainError(_l("Give the deal a title."), field="title")
    if not face_value and not item:
        raise DomainError(_l("Say what a coupon is worth: an amount or an item."), field="face_value")
    if face_value is not None and face_value <= 0:
        raise DomainError(_l("A coupon's value must be above zero."), field="face_value")
    if price is None or price < 0:
        raise DomainError(_l("A price cannot be negative."), field="price")
    if cap is None or cap < 1:
        raise DomainError(_l("Offer at least one coupon."), field="cap")
    if min_coupons is None or min_coupons < 1:
        raise DomainError(_l("The minimum to tip must be at least 1."), field="min_coupons")
    if min_coupons > cap:
        raise DomainError(_l("The minimum to tip cannot be above the cap."), field="min_coupons")
    if per_buyer is None or not 1 <= per_buyer <= cap:
        raise DomainError(_l("The limit per buyer must be between 1 and the cap."), field="per_buyer")
    most = current_app.config["DEAL_MAX_REDEEM_DAYS"]
    if redeem_days is None or not 0 <= redeem_days <= most:
        raise DomainError(_l("Coupons can be valid for 0 to %(n)d days after the deal.", n=most), field="redeem_days")
    drop_at, deadline = _at(day, drop_time), _at(day, deadline_time)
    redeem_until = _at(day + timedelta(days=redeem_days), stall.closes_at)
    if drop_at <= now:
        raise DomainError(_l("The drop time must be in the future."), field="drop_time")
    if deadline <= drop_at:
        raise DomainError(_l("The tipping deadline must come after the drop."), field="deadline_time")
    if redeem_until <= drop_at:
        raise DomainError(
            _l("The redemption window ends before the drop: the stall closes at %(time)s.",
               time=_clock(stall.closes_at)),
            field="redeem_days",
        )  # fmt: skip
    if redeem_until <= deadline:
        raise DomainError(
            _l("The redemption window ends before the tipping deadline: the stall closes at %(time)s.",
               time=_clock(stall.closes_at)),
            field="redeem_days",
        )  # fmt: skip
    _refuse_overlap(producer.village, day)
    label = item or str(_l("%(value)s coupon", value=format_money(face_value, current_app.config["CURRENCY"])))
    group_buy = GroupBuy(
        producer=producer, subject=None, title=title[:120], story=(story or "").strip(), unit_label=label[:80],
        unit_price=price, total_units=cap, min_units=min_coupons, per_buyer_max=per_buyer, deadline=deadline,
        delivery_note=_where(stall), created_at=now, status="draft",
    )  # fmt: skip
    deal = Deal(
        group_buy=group_buy, village_id=producer.village_id, producer_id=producer.id, deal_date=day, drop_at=drop_at,
        face_value=face_value or None, item=item[:120], redeem_until=redeem_until, created_by_id=by.id, created_at=now,
    )  # fmt: skip
    db.session.add_all([group_buy, deal])
    try:
        db.session.commit()
    except IntegrityError:  # another deal for that market and day was saved a moment ago
        db.session.rollback()
        raise _overlap(producer.village, day) from None
    return deal


def _clock(moment: time) -> str:
    """A wall-clock time the way the page shows it: 오후 6:00 / 6:00 PM."""
    from flask_babel import format_time, get_locale

    return format_time(moment, "a h:mm" if str(get_locale() or "ko").startswith("ko") else "h:mm a")


def _where(stall: Stall) -> str:
    return " · ".join(part for part in (stall.number, stall.location) if part)


def _overlap(village: Village, day: date) -> DomainError:
    from flask_babel import format_date

    return DomainError(
        _l("%(market)s already has a deal on %(day)s: one deal per market a day.", market=village.name,
           day=format_date(day, "medium")),
        field="day",
    )  # fmt: skip


def _refuse_overlap(village: Village, day: date) -> None:
    taken = db.session.scalar(
        select(Deal.id).where(Deal.village_id == village.id, Deal.deal_date == day, Deal.cancelled_at.is_(None))
    )
    if taken is not None:
        raise _overlap(village, day)


def get_deal(deal_id: int) -> Deal:
    deal = db.session.scalar(
        select(Deal)
        .where(Deal.id == deal_id)
        .options(
            selectinload(Deal.group_buy),
            selectinload(Deal.village),
            selectinload(Deal.producer).selectinload(Producer.photo),
        )
    )
    if deal is None:
        raise NotFound(_l("No such deal."))
    return deal


def deal_of_group_buy(group_buy_id: int) -> Deal | None:
    return db.session.scalar(select(Deal).where(Deal.group_buy_id == group_buy_id))


def _listed():
    return (
        select(Deal)
        .join(GroupBuy, GroupBuy.id == Deal.group_buy_id)
        .where(Deal.cancelled_at.is_(None), GroupBuy.status != "cancelled")
        .options(
            selectinload(Deal.group_buy),
            selectinload(Deal.village),
            selectinload(Deal.producer).selectinload(Producer.photo),
        )
    )


def todays_deals(*, now: datetime) -> list[Deal]:
    """Today's deal of every market, by market name."""
    query = _listed().join(Village, Village.id == Deal.village_id).where(Deal.deal_date == market_today(now))
    return list(db.session.scalars(query.order_by(Village.name)))


def upcoming_deals(*, now: datetime, village: Village | None = None, limit: int = 30) -> list[Deal]:
    """Deals still to drop (the next drops first), of one market or all."""
    query = _listed().where(Deal.drop_at > now, Deal.deal_date >= market_today(now))
    if village is not None:
        query = query.where(Deal.village_id == village.id)
    return list(db.session.scalars(query.order_by(Deal.drop_at, Deal.id).limit(limit)))


def recent_deals(*, now: datetime, village: Village, limit: int = 7) -> list[Deal]:
    """The market's past deals, latest first."""
    query = _listed().where(Deal.village_id == village.id, Deal.deal_date < market_today(now))
    return list(db.session.scalars(query.order_by(Deal.deal_date.desc()).limit(limit)))


def deals_of_stall(producer: Producer, *, limit: int = 30) -> list[Deal]:
    query = _listed().where(Deal.producer_id == producer.id)
    return list(db.session.scalars(query.order_by(Deal.deal_date.desc()).limit(limit)))


def buy_coupons(*, deal: Deal, buyer, coupons: int, now: datetime) -> Pledge:
    """Buy coupons of a live deal (or change how many), paying at the stall: a pledge in the
    deal's group-buy, so the per-buyer limit, the cap and all-or-nothing are the group-buy's."""
    if deal.state(now) != "live":
        raise DomainError(_l("This deal is not selling coupons now."))
    return groupbuys.pledge(group_buy=deal.group_buy, buyer=buyer, units=coupons, payment_method="pickup", now=now)


def drop_due_deals(*, now: datetime) -> int:
    """Tick job: scheduled deals whose drop time came open their group-buy (once, by a
    conditional UPDATE), and the market's followers are told in the same transaction."""
    due = db.session.scalars(
        select(Deal.id)
        .join(GroupBuy, GroupBuy.id == Deal.group_buy_id)
        .where(GroupBuy.status == "draft", Deal.drop_at <= now, Deal.cancelled_at.is_(None))
        .order_by(Deal.drop_at)
    ).all()
    dropped = 0
    for deal_id in due:
        deal = db.session.get(Deal, deal_id)
        moved = db.session.execute(
            update(GroupBuy)
            .where(GroupBuy.id == deal.group_buy_id, GroupBuy.status == "draft")
            .values(status="open", opened_at=now)
        )
        if moved.rowcount != 1:
            db.session.rollback()
            continue
        deal.dropped_at = now
        notify(
            followers_of(deal.village), template="deal_dropped", now=now, deal=deal,
            link=external_url("deals.show", deal_id=deal.id),
        )  # fmt: skip
        db.session.commit()
        dropped += 1
    return dropped


def followers_of(village: Village) -> list:
    """Everyone who follows one of the market's stalls (each once)."""
    from farmstore.accounts.models import User

    return list(
        db.session.scalars(
            select(User)
            .where(
                exists()
                .where(Follow.user_id == User.id)
                .where(Follow.producer_id.in_(select(Producer.id).where(Producer.village_id == village.id)))
            )
            .order_by(User.id)
        )
    )


# ---------------------------------------------------------------- coupons


def _new_coupon_code() -> str:
    while True:
        code = "".join(secrets.choice(PICKUP_CODE_ALPHABET) for _ in range(COUPON_CODE_LENGTH))
        if db.session.scalar(select(Coupon.id).where(Coupon.code == code)) is None:
            return code


def normalize_code(code: str | None) -> str:
    """What the stall typed, as stored: no spaces or dashes, capitals."""
    return re.sub(r"[\s-]", "", code or "").upper()[:20]


def issue_coupons(*, now: datetime) -> int:
    """Tick job (after the group-buy settlement): every pledge of a tipped deal that is due or
    paid gets one coupon per unit, each pledge in its own transaction with its email. A pledge
    that already has coupons is skipped and the (pledge, seq) key is unique, so a run killed
    midway and run again issues nothing twice. Pledges released (a deal that did not tip),
    withdrawn or lapsed get none. Returns the coupons issued."""
    pending = db.session.scalars(
        select(Pledge.id)
        .join(Deal, Deal.group_buy_id == Pledge.group_buy_id)
        .join(GroupBuy, GroupBuy.id == Pledge.group_buy_id)
        .where(
            GroupBuy.status.in_(("succeeded", "fulfilled")),
            Pledge.status.in_(("due", "paid")),
            ~exists().where(Coupon.pledge_id == Pledge.id),
        )
        .order_by(Pledge.id)
    ).all()
    issued = 0
    for pledge_id in pending:
        record = db.session.get(Pledge, pledge_id)
        deal = db.session.scalar(select(Deal).where(Deal.group_buy_id == record.group_buy_id))
        coupons = [
            Coupon(
                code=_new_coupon_code(),
                deal_id=deal.id,
                pledge_id=record.id,
                seq=seq,
                buyer_id=record.buyer_id,
                producer_id=deal.producer_id,
                price=deal.price,
                valid_from=deal.deadline,
                valid_until=deal.redeem_until,
                issued_at=now,
            )
            for seq in range(1, record.units + 1)
        ]
        db.session.add_all(coupons)
        try:
            db.session.flush()
        except IntegrityError:  # another tick issued them a moment ago
            db.session.rollback()
            continue
        if record.buyer is not None:
            notify(
                [record.buyer], template="deal_coupons", now=now, deal=deal, coupons=coupons, pledge=record,
                link=external_url("deals.my_coupons"),
            )  # fmt: skip
        db.session.commit()
        issued += len(coupons)
    return issued


def coupons_of(user) -> list[Coupon]:
    """A buyer's coupons, newest deal first."""
    return list(
        db.session.scalars(
            select(Coupon)
            .where(Coupon.buyer_id == user.id)
            .options(selectinload(Coupon.deal).selectinload(Deal.producer), selectinload(Coupon.pledge))
            .order_by(Coupon.valid_until.desc(), Coupon.id)
        )
    )


@dataclass
class Redemption:
    """A coupon just taken at the stall, and the money to collect with it (pay at the stall)."""

    coupon: Coupon
    collect: int = 0
    collect_for: int = 0


def redeem(*, producer: Producer, code: str, by, now: datetime) -> Redemption:
    """The stall takes a coupon by its code: one conditional UPDATE that only a coupon of this
    stall, valid now and never used can pass, so of many simultaneous tries exactly one wins.
    A coupon bought to pay at the stall is paid here, for all of its pledge's coupons, the first
    time one of them is redeemed."""
    if not may_redeem(by, producer):
        raise NotAllowed(_l("Only the stall can take its coupons."))
    code = normalize_code(code)
    if not code:
        raise DomainError(_l("Type the coupon's code."), field="code")
    won = db.session.execute(
        update(Coupon)
        .where(
            Coupon.code == code,
            Coupon.producer_id == producer.id,
            Coupon.redeemed_at.is_(None),
            Coupon.expired_at.is_(None),
            Coupon.valid_from <= now,
            Coupon.valid_until > now,
        )
        .values(redeemed_at=now, redeemed_by_id=by.id)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:
        db.session.rollback()
        raise _why_not(code, producer, now)
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == code))
    db.session.refresh(coupon)
    result = Redemption(coupon=coupon)
    record = coupon.pledge
    if record.status == "due":
        payment = groupbuys.record_payment(record, commit=False)
        if payments._succeed(payment, now=now, by=by):
            result.collect, result.collect_for = payment.amount, record.units
        db.session.execute(
            update(Pledge).where(Pledge.id == record.id, Pledge.status == "due").values(status="paid", picked_up_at=now)
        )
    db.session.commit()
    return result


def _why_not(code: str, producer: Producer, now: datetime) -> DomainError:
    """Why the coupon `code` cannot be taken at this stall now, in words the stall understands."""
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == code))
    if coupon is None:
        return DomainError(_l("No coupon has the code %(code)s. Check it and try again.", code=code), field="code")
    if coupon.producer_id != producer.id:
        stall = db.session.get(Producer, coupon.producer_id)
        return DomainError(
            _l("Coupon %(code)s is for another stall (%(stall)s), not this one.", code=code, stall=stall.farm_name),
            field="code",
        )
    if coupon.redeemed_at is not None:
        used = format_when(coupon.redeemed_at, "short")
        return DomainError(_l("Coupon %(code)s was already used (%(when)s).", code=code, when=used), field="code")
    if coupon.expired_at is not None or now >= coupon.valid_until:
        return DomainError(
            _l("Coupon %(code)s expired (%(when)s).", code=code, when=format_when(coupon.valid_until, "short")),
            field="code",
        )
    return DomainError(
        _l("Coupon %(code)s is valid from %(when)s.", code=code, when=format_when(coupon.valid_from, "short")),
        field="code",
    )


def redeemed_today(producer: Producer, *, now: datetime) -> list[Coupon]:
    """The stall's coupons taken today (market time), latest first."""
    start = _at(market_today(now), time(0, 0))
    return list(
        db.session.scalars(
            select(Coupon)
            .where(Coupon.producer_id == producer.id, Coupon.redeemed_at >= start)
            .options(selectinload(Coupon.deal))
            .order_by(Coupon.redeemed_at.desc())
        )
    )


def settle_expired_coupons(*, now: datetime) -> int:
    """Tick job: coupons nobody redeemed by the end of their window are settled once by the
    operator's DEAL_UNREDEEMED_POLICY: "stall" (the stall keeps the money) or "refund" (the buyer
    gets the coupon's price back as store credit, through the ordinary refund with its ledger
    rows). A coupon never paid for (pay at the stall) just expires. Returns coupons settled."""
    policy = current_app.config["DEAL_UNREDEEMED_POLICY"]
    due = db.session.scalars(
        select(Coupon.id)
        .where(Coupon.redeemed_at.is_(None), Coupon.expired_at.is_(None), Coupon.valid_until <= now)
        .order_by(Coupon.id)
    ).all()
    settled = 0
    for coupon_id in due:
        coupon = db.session.get(Coupon, coupon_id)
        payment = db.session.scalar(select(Payment).where(Payment.pledge_id == coupon.pledge_id))
        paid = payment is not None and payment.status == "succeeded"
        outcome = policy if paid else "unpaid"
        claimed = db.session.execute(
            update(Coupon)
            .where(Coupon.id == coupon_id, Coupon.redeemed_at.is_(None), Coupon.expired_at.is_(None))
            .values(expired_at=now, outcome=outcome)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            db.session.rollback()
            continue
        if outcome == "refund" and coupon.price:
            payments.refund(
                payment,
                amount=coupon.price,
                reason=f"coupon {coupon.code} not used in time",
                by=None,
                now=now,
                automatic=True,
                to_credit=True,
            )  # fmt: skip  (commits the claim with the refund)
        else:
            db.session.commit()
        settled += 1
    return settled


# ---------------------------------------------------------------- the stall's money


@dataclass
class StallReport:
    """A stall's coupons and money, from the coupons and the ledger. Money is settled on
    redemption: what the buyers paid for coupons still open is held; everything else in the
    ledger (coupons redeemed, or unredeemed and kept by the stall under the "stall" policy,
    less refunds, the platform fee and recommendation rewards) is owed to the stall.
    owed + held = the ledger's net, to the won."""

    producer: Producer
    sold: int = 0
    redeemed: int = 0
    unredeemed_expired: int = 0
    open: int = 0
    redeemed_value: int = 0
    kept_value: int = 0
    refunded_value: int = 0
    held: int = 0
    gross: int = 0
    refunds: int = 0
    fees: int = 0
    rewards: int = 0
    net: int = 0
    deals: list = field(default_factory=list)

    @property
    def owed(self) -> int:
        return self.net - self.held


def stall_report(producer: Producer, *, by, now: datetime) -> StallReport:
    """The stall's payout report for all of its deals (the stall, its evangelist or an operator)."""
    if not may_manage(by, producer):
        raise NotAllowed(_l("Only the stall, the market's evangelist or an operator can see this."))
    report = StallReport(producer=producer)
    paid = select(Payment.pledge_id).where(Payment.status == "succeeded", Payment.pledge_id.is_not(None))
    for coupon in db.session.scalars(select(Coupon).where(Coupon.producer_id == producer.id)):
        report.sold += 1
        if coupon.redeemed_at is not None:
            report.redeemed += 1
            report.redeemed_value += coupon.price
        elif coupon.expired_at is not None:
            report.unredeemed_expired += 1
            if coupon.outcome == "stall":
                report.kept_value += coupon.price
            elif coupon.outcome == "refund":
                report.refunded_value += coupon.price
        else:
            report.open += 1
    report.held = db.session.scalar(
        select(func.coalesce(func.sum(Coupon.price), 0)).where(
            Coupon.producer_id == producer.id,
            Coupon.redeemed_at.is_(None),
            Coupon.expired_at.is_(None),
            Coupon.pledge_id.in_(paid),
        )
    )
    deal_payments = (
        select(Payment.id)
        .join(Pledge, Pledge.id == Payment.pledge_id)
        .join(Deal, Deal.group_buy_id == Pledge.group_buy_id)
        .where(Deal.producer_id == producer.id)
    )
    gross, refunds, fees, rewards, total = db.session.execute(
        select(*payments._sum_columns()).where(LedgerEntry.payment_id.in_(deal_payments))
    ).one()
    report.gross, report.refunds, report.fees, report.rewards, report.net = gross, refunds, fees, rewards, total
    report.deals = deals_of_stall(producer)
    return report
