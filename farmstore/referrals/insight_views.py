"""What recommendations brought: a producer's insight (overall, per sale, per group-buy) and a
member's own (/me/recommendations). Routes on the referrals blueprint."""

from __future__ import annotations

from flask import render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from farmstore.groupbuys.services import get_group_buy
from farmstore.producers.services import get_producer
from farmstore.referrals import bp, insight, services
from farmstore.sales.services import get_sale
from farmstore.timeutil import utcnow
from farmstore.web import found, owner_only


def _producer_page(producer, data: insight.Insight, *, heading: str, back: tuple[str, str]):
    """The producer's insight page for one scope."""
    return render_template(
        "referrals/insight.html", producer=producer, insight=data, heading=heading, back=back,
        node_width=insight.NODE_WIDTH, node_height=insight.NODE_HEIGHT,
    )  # fmt: skip


@bp.get("/producers/<slug>/recommendations")
@login_required
def producer_insight(slug: str):
    """The owner's view of everything recommendations brought to their farm."""
    producer = found(get_producer, slug)
    owner_only(producer)
    back = (url_for("producers.show", slug=producer.slug), producer.farm_name)
    return _producer_page(producer, insight.producer_insight(producer), heading=producer.farm_name, back=back)


@bp.get("/sales/<int:sale_id>/recommendations")
@login_required
def sale_insight(sale_id: int):
    """The owner's view of what recommendations brought to one sale."""
    sale = found(get_sale, sale_id)
    owner_only(sale.producer)
    back = (url_for("sales.roster", sale_id=sale.id), _("Roster"))
    return _producer_page(sale.producer, insight.sale_insight(sale), heading=sale.title, back=back)


@bp.get("/group-buys/<int:group_buy_id>/recommendations")
@login_required
def group_buy_insight(group_buy_id: int):
    """The owner's view of what recommendations brought to one group-buy."""
    group_buy = found(get_group_buy, group_buy_id)
    owner_only(group_buy.producer)
    back = (url_for("groupbuys.allocation", group_buy_id=group_buy.id), _("Allocation"))
    return _producer_page(group_buy.producer, insight.group_buy_insight(group_buy), heading=group_buy.title, back=back)


@bp.get("/me/recommendations")
@login_required
def my_insight():
    """What the member's recommendations brought, and their store credit."""
    history, now = services.credit_history(current_user), utcnow()
    return render_template(
        "referrals/my_insight.html", mine=insight.my_insight(current_user), balance=services.balance_of(current_user),
        history=history, producers=insight.credit_producers(history),
        certificates=services.certificates_of(current_user, now=now), now=now,
    )  # fmt: skip
