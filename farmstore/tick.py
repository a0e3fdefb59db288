"""Due work run by `flask farm tick`: each area adds its job here (mail delivery first).

Every job takes `now` and must be safe to run again after a crash or alongside another tick.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from farmstore.deals import services as deals
from farmstore.groupbuys import services as groupbuys
from farmstore.inquiries.services import escalate_unanswered, remind_unanswered
from farmstore.notifications.services import deliver_due_messages
from farmstore.payments.stripe_flow import cancel_abandoned_card_setups, reconcile_stripe_payments
from farmstore.payments.toss_flow import reconcile_toss_payments
from farmstore.referrals.services import expire_certificates
from farmstore.regulars.services import notify_followers_of_new_posts
from farmstore.sales import services as sales

JOBS: list[tuple[str, Callable[..., object]]] = [
    ("deal_drops", deals.drop_due_deals),
    ("group_buy_settlement", groupbuys.settle_due_group_buys),
    ("deal_coupons", deals.issue_coupons),
    ("deal_unredeemed_coupons", deals.settle_expired_coupons),
    ("group_buy_card_release", groupbuys.release_cards),
    ("group_buy_unpaid_pledges", groupbuys.free_unpaid_pledges),
    ("group_buy_waitlist_offers", groupbuys.lapse_waitlist_offers),
    ("expired_reservations", sales.expire_reservations),
    ("lapsed_waitlist_offers", sales.lapse_waitlist_offers),
    ("no_shows", sales.mark_no_shows),
    ("late_payment_refunds", sales.refund_late_payments),
    ("stripe_payments", reconcile_stripe_payments),
    ("toss_payments", reconcile_toss_payments),
    ("abandoned_card_setups", cancel_abandoned_card_setups),
    ("question_reminders", remind_unanswered),
    ("question_escalations", escalate_unanswered),
    ("story_followers", notify_followers_of_new_posts),
    ("gift_certificate_expiry", expire_certificates),
    # Mail last, so messages written by the jobs above go out in the same tick.
    ("mail", deliver_due_messages),
]


def run_tick(*, now: datetime) -> dict[str, object]:
    """Run every job once and return what each reported."""
    return {name: job(now=now) for name, job in JOBS}
