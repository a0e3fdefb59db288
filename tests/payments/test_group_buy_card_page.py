"""Pledging by card from the group-buy page: the buyer saves a card with a SetupIntent on their
Stripe Customer (Stripe's Payment Element, which only the card page may load), comes back, and
the pledge is made with that card; nothing is charged until the group-buy is on.

localstripe cannot run Stripe.js, so the tests do what Stripe.js does with the tests' own Stripe
client (`stripe_api`): confirm the page's SetupIntent with a test card, then follow Stripe's
return URL, exactly as a browser would."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
import stripe
from sqlalchemy import func, select

from farmstore.extensions import db
from farmstore.groupbuys.models import Pledge
from farmstore.groupbuys.services import settle_due_group_buys
from farmstore.payments.models import Payment, SavedCard, StripeCustomer
from farmstore.timeutil import utcnow
from tests.groupbuys.conftest import build_world, make_group_buy
from tests.payments.conftest import STRIPE_CONFIG

pytestmark = STRIPE_CONFIG


@pytest.fixture
def world(ctx):
    """An open group-buy (120 units at 18,000 won, minimum 2, up to 10 each) and buyers, as ids."""
    made = build_world()
    group_buy = make_group_buy(made.producer, now=utcnow(), minimum=2)
    return {"group_buy_id": group_buy.id, "buyer_id": made.buyer.id, "second_id": made.second.id}


def card_page(client, group_buy_id: int, units: int = 2):
    """Choose "by card" on the group-buy page and follow to the card page."""
    response = client.post(f"/group-buys/{group_buy_id}/pledge", data={"units": str(units), "payment_method": "stripe"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/group-buys/{group_buy_id}/card?units={units}&show_name=0"
    return client.get(response.headers["Location"])


def page_data(response) -> dict[str, str]:
    """The data- attributes of the card form."""
    form = re.search(r'<form id="payment-form"([^>]*)>', unescape(response.text))[1]
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', form))


def confirm_in_browser(stripe_api: stripe.StripeClient, client_secret: str, card: str = "pm_card_visa"):
    """What Stripe.js does when the buyer submits the Payment Element in setup mode."""
    setup_intent = client_secret.split("_secret_")[0]
    return stripe_api.v1.setup_intents.confirm(setup_intent, {"payment_method": card})


def come_back(client, data: dict[str, str], setup_intent: str):
    """Stripe's redirect to the return URL, with the query it adds."""
    url = urlsplit(data["return-url"])
    assert url.netloc == "farmstore.test"
    return client.get(f"{url.path}?{url.query}&setup_intent={setup_intent}&redirect_status=succeeded")


def test_a_buyer_saves_a_card_and_pledges_then_is_charged_once_when_it_is_on(client, auth, world, stripe_api):
    auth.login("buyer@example.com")
    page = card_page(client, world["group_buy_id"], units=3)

    assert page.status_code == 200
    data = page_data(page)
    assert data["mode"] == "setup"
    assert data["publishable-key"] == "pk_test_farmstore"
    customer = db.session.get(StripeCustomer, world["buyer_id"]).customer_id
    setup_intent = stripe_api.v1.setup_intents.retrieve(data["client-secret"].split("_secret_")[0])
    assert (setup_intent.customer, setup_intent.usage, setup_intent.status) == (
        customer, "off_session", "requires_payment_method",
    )  # fmt: skip
    assert "Nothing is charged now." in unescape(page.text)
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 0  # no pledge before the card

    confirmed = confirm_in_browser(stripe_api, data["client-secret"])
    assert confirmed.status == "succeeded"
    back = come_back(client, data, setup_intent.id)

    assert (back.status_code, back.headers["Location"]) == (302, f"/group-buys/{world['group_buy_id']}")
    shown = unescape(client.get(back.headers["Location"]).text)
    assert "Your pledge is saved with your card." in shown
    assert "your saved card is charged ₩54,000" in shown
    record = db.session.scalar(select(Pledge))
    assert (record.units, record.payment_method, record.status) == (3, "stripe", "active")
    assert record.card_payment_method_id == confirmed.payment_method
    assert stripe_api.v1.payment_methods.retrieve(record.card_payment_method_id).customer == customer
    assert stripe_api.v1.payment_intents.list().data == []  # nothing charged yet

    deadline = record.group_buy.deadline
    assert settle_due_group_buys(now=deadline) == 1
    db.session.expire_all()
    payment = db.session.scalar(select(Payment).where(Payment.pledge_id == record.id))
    assert (db.session.get(Pledge, record.id).status, payment.status, payment.amount) == ("paid", "succeeded", 54_000)
    intents = stripe_api.v1.payment_intents.list().data
    assert [(i.amount, i.payment_method, i.status) for i in intents] == [
        (54_000, record.card_payment_method_id, "succeeded")
    ]


def test_coming_back_twice_makes_one_pledge_with_one_card(client, auth, world, stripe_api):
    auth.login("buyer@example.com")
    data = page_data(card_page(client, world["group_buy_id"]))
    setup_intent = confirm_in_browser(stripe_api, data["client-secret"]).id

    come_back(client, data, setup_intent)
    come_back(client, data, setup_intent)

    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 1
    assert db.session.scalar(select(func.count()).select_from(SavedCard)) == 1
    assert db.session.scalar(select(Pledge.units)) == 2


def test_reloading_the_card_page_reuses_the_unfinished_setup(client, auth, world, stripe_api):
    auth.login("buyer@example.com")
    first = page_data(card_page(client, world["group_buy_id"]))["client-secret"]
    second = page_data(card_page(client, world["group_buy_id"]))["client-secret"]
    assert first == second
    assert db.session.scalar(select(func.count()).select_from(SavedCard)) == 1


def test_an_unconfirmed_or_declined_card_makes_no_pledge(client, auth, world, stripe_api):
    auth.login("buyer@example.com")
    data = page_data(card_page(client, world["group_buy_id"]))
    setup_intent = data["client-secret"].split("_secret_")[0]

    response = come_back(client, data, setup_intent)  # the buyer never submitted the card form
    assert "Your card could not be saved. Please try again." in unescape(client.get(response.headers["Location"]).text)

    with pytest.raises(stripe.CardError):
        confirm_in_browser(stripe_api, data["client-secret"], card="pm_card_visa_chargeDeclined")
    come_back(client, data, setup_intent)
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 0


def test_someone_elses_setup_intent_is_refused(client, auth, world, stripe_api):
    auth.login("buyer@example.com")
    data = page_data(card_page(client, world["group_buy_id"]))
    setup_intent = confirm_in_browser(stripe_api, data["client-secret"]).id
    auth.logout()
    auth.login("second@example.com")

    response = come_back(client, data, setup_intent)

    assert "Your card could not be saved. Please try again." in unescape(client.get(response.headers["Location"]).text)
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 0


def test_changing_the_units_of_a_card_pledge_keeps_its_card(client, auth, world, stripe_api):
    auth.login("buyer@example.com")
    data = page_data(card_page(client, world["group_buy_id"]))
    confirmed = confirm_in_browser(stripe_api, data["client-secret"])
    come_back(client, data, confirmed.id)
    card = confirmed.payment_method

    response = client.post(
        f"/group-buys/{world['group_buy_id']}/pledge", data={"units": "5", "payment_method": "stripe"}
    )

    assert response.headers["Location"] == f"/group-buys/{world['group_buy_id']}"  # no second card page
    record = db.session.scalar(select(Pledge))
    db.session.refresh(record)
    assert (record.units, record.card_payment_method_id) == (5, card)


def test_only_the_card_page_lets_stripe_in(client, auth, world):
    auth.login("buyer@example.com")
    page = card_page(client, world["group_buy_id"])
    group_buy_page = client.get(f"/group-buys/{world['group_buy_id']}")

    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com" in csp
    assert "frame-src https://js.stripe.com" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["Cache-Control"] == "no-store"
    assert "stripe" not in group_buy_page.headers["Content-Security-Policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert [attributes for attributes, body in scripts if body.strip()] == []  # no inline script
    sources = [re.search(r'src="([^"]+)"', attributes)[1] for attributes, _body in scripts]
    assert sources == ["/static/js/limits.js", "https://js.stripe.com/v3/", "/static/js/pay.js"]
    assert 'value="stripe"' in group_buy_page.text  # the page offers paying by card


@pytest.mark.app_config(PAYMENT_PROVIDERS=["pickup"])
def test_without_cards_the_page_offers_no_card_and_refuses_one(client, auth, world):
    auth.login("buyer@example.com")
    assert 'value="stripe"' not in client.get(f"/group-buys/{world['group_buy_id']}").text
    response = client.post(
        f"/group-buys/{world['group_buy_id']}/pledge", data={"units": "2", "payment_method": "stripe"}
    )
    assert response.headers["Location"] == f"/group-buys/{world['group_buy_id']}"
    shown = client.get(response.headers["Location"]).text
    assert "This way of paying is not available." in shown
    assert client.get(f"/group-buys/{world['group_buy_id']}/card?units=2").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 0


def test_the_card_page_asks_anonymous_visitors_to_sign_in(client, world):
    response = client.get(f"/group-buys/{world['group_buy_id']}/card?units=2")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_when_stripe_is_unreachable_the_card_page_says_so(app, client, auth, world):
    auth.login("buyer@example.com")
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"
    page = card_page(client, world["group_buy_id"])
    assert "We could not reach the card payment service." in unescape(page.text)
    assert "payment-element" not in page.text
