"""Insight into recommendation chains: what a producer sees (overall, per sale, per group-buy) and what
a member sees of their own recommendations; who may see it; privacy; a bounded number of SQL
statements whatever the size of the data; the spread picture as inline SVG.

The world is made through the real services at the sales helpers' fixed NOW:
A (지연) shares the sale; B (민호, name hidden) arrives through A's link and shares it on; C (소라) arrives
through B's and buys (chain B ← A); D (다니엘) arrives through A's and buys (chain A); E (은지) buys on
her own; F (프랭크) arrives through A's group-buy link and pledges (chain A); G (고은) shares the farm's
page, H (한결) arrives through it and buys (chain G), then G deletes her account."""

from __future__ import annotations

import re
from contextlib import contextmanager
from itertools import pairwise
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete, event, select

from farmstore.accounts.models import User
from farmstore.extensions import db
from farmstore.groupbuys.services import pledge
from farmstore.referrals import insight, services
from farmstore.referrals.insight import Scope
from farmstore.sales.models import Order
from farmstore.sales.services import cancel_order
from tests.browser.conftest import console_errors  # noqa: F401 (a fixture, found by pytest by name)
from tests.browser.test_story_walk import horizontal_overflow, screenshot, sign_in
from tests.catalog.conftest import make_product
from tests.english import client, ctx  # noqa: F401 (fixtures, found by pytest by name)
from tests.factories import make_producer, make_user, make_village
from tests.groupbuys.conftest import make_group_buy
from tests.sales.conftest import NOW, buy, make_point, make_sale


def share(user, kind: str, target, **extra):
    return services.share(user, kind=kind, target_id=target.id, now=NOW, **extra)


def visit(link, user) -> None:
    services.open_link(link, user=user, guest=None, now=NOW)


def build_world() -> SimpleNamespace:
    producer = make_producer(make_user("owner@example.com", display_name="농부 김씨"), make_village("들꽃마을"),
                             farm_name="느릅골 농장")  # fmt: skip
    kimchi = make_product(producer, "배추김치")
    sale = make_sale(producer, [(kimchi, 20_000, 500, 5)], point=make_point(producer), title="토요일 김치")
    group_buy = make_group_buy(producer, now=NOW, total=500, title="북쪽 밭 배추")
    people = {
        key: make_user(f"{key}@example.com", display_name=name)
        for key, name in [("a", "지연"), ("b", "민호"), ("c", "소라"), ("d", "다니엘"), ("e", "은지"), ("f", "프랭크"),
                          ("g", "고은"), ("h", "한결")]
    }  # fmt: skip
    w = SimpleNamespace(producer=producer, sale=sale, group_buy=group_buy, **people)
    a_sale = share(w.a, "sale", sale)
    visit(a_sale, w.b)
    b_sale = share(w.b, "sale", sale, show_name=False)
    visit(b_sale, w.c)
    buy(sale, w.c)
    visit(a_sale, w.d)
    buy(sale, w.d)
    buy(sale, w.e)
    a_group_buy = share(w.a, "groupbuy", group_buy)
    visit(a_group_buy, w.f)
    pledge(group_buy=group_buy, buyer=w.f, units=1, now=NOW)
    g_farm = share(w.g, "producer", producer)
    visit(g_farm, w.h)
    buy(sale, w.h)
    db.session.execute(delete(User).where(User.id == w.g.id))
    db.session.commit()
    w.links = SimpleNamespace(a_sale=a_sale.id, b_sale=b_sale.id, a_group_buy=a_group_buy.id, g_farm=g_farm.id)
    return w


@pytest.fixture
def world(ctx) -> SimpleNamespace:  # noqa: F811 (the English ctx imported above)
    return build_world()


def lengths(found: insight.Insight) -> list[int]:
    return [row.purchases for row in found.lengths]


def recommenders(found: insight.Insight) -> set[tuple[str, int, int]]:
    return {(row.name, row.direct, row.anywhere) for row in found.recommenders}


# -- Services -------------------------------------------------------------------------------------


def test_a_sale_counts_purchases_by_chain_length_and_who_brought_them(world):
    found = insight.sale_insight(world.sale)

    assert lengths(found) == [1, 2, 1, 0]  # E on her own; D and H through one person; C through two
    assert [row.label for row in found.lengths] == ["0", "1", "2", "3+"]
    assert (found.purchases, found.recommended) == (4, 3)
    assert recommenders(found) == {("지연", 1, 2), ("a neighbour", 1, 1), ("a former member", 1, 1)}
    assert found.recommenders[0].name == "지연"  # brought the most buyers anywhere in a chain
    assert found.reach == 3  # B, C and D opened links to the sale; H came through the farm's page


def test_the_whole_farm_adds_the_group_buy_and_every_visitor(world):
    found = insight.producer_insight(world.producer)

    assert lengths(found) == [1, 3, 1, 0]
    assert ("지연", 2, 3) in recommenders(found)  # D and F directly, C through 민호
    assert found.reach == 5  # B, C, D, F, H


def test_a_group_buy_counts_only_its_pledges(world):
    found = insight.group_buy_insight(world.group_buy)

    assert lengths(found) == [0, 1, 0, 0]
    assert recommenders(found) == {("지연", 1, 1)}
    assert found.reach == 1


def test_cancelled_orders_are_not_counted(world):
    order = db.session.scalar(select(Order).where(Order.sale_id == world.sale.id, Order.buyer_id == world.d.id))
    cancel_order(order, by=world.d, now=NOW)

    found = insight.sale_insight(world.sale)
    assert lengths(found) == [1, 1, 1, 0]
    assert ("지연", 0, 1) in recommenders(found)


def test_a_recommender_who_hid_their_name_once_stays_a_neighbour(world):
    services.share(world.b, kind="sale", target_id=world.sale.id, now=NOW, show_name=True)

    names = {row.name for row in insight.sale_insight(world.sale).recommenders}
    assert "민호" not in names  # the chain recorded for C's order was made without consent
    assert "a neighbour" in names


def test_the_spread_of_a_sale_draws_its_links_and_the_chains_of_its_purchases(world):
    spread = insight.spread(Scope(producer_id=world.producer.id, sale_id=world.sale.id))

    assert spread.links == 3  # A's and B's links to the sale, and G's farm link H bought through
    first, second = spread.trees
    assert (first.root.id, [child.id for child in first.root.children]) == (world.links.a_sale, [world.links.b_sale])
    assert (first.root.visitors, first.root.purchases, first.root.bought) == (2, 1, 2)
    assert (second.root.name, second.root.purchases) == ("a former member", 1)
    child = first.root.children[0]
    assert child.y > first.root.y
    assert child.x == first.root.x  # an only child sits right below its parent
    assert (first.width, first.height) == (
        2 * insight.MARGIN + insight.NODE_WIDTH,
        2 * insight.MARGIN + 2 * insight.NODE_HEIGHT + insight.GAP_Y,
    )


def test_the_spread_picture_keeps_the_biggest_trees_and_sums_up_the_rest(world):
    spread = insight.spread(Scope(producer_id=world.producer.id), trees=1, nodes_per_tree=1)

    (tree,) = spread.trees
    assert tree.root.id == world.links.a_sale  # two purchases below it
    assert [(node.hidden, node.id) for node in tree.root.children] == [(1, -world.links.a_sale)]
    assert (spread.more_trees, spread.more_links, spread.links) == (2, 2, 4)


def test_a_wide_tree_is_laid_out_without_overlaps_and_parents_over_their_children(ctx):  # noqa: F811
    root = insight.TreeNode(id=1, name="root")
    for n in range(2, 6):
        child = insight.TreeNode(id=n, name=f"child {n}")
        child.children = [insight.TreeNode(id=10 * n + k, name="leaf") for k in range(n % 3)]
        root.children.append(child)

    tree = insight._layout(root)

    by_row: dict[int, list[int]] = {}
    for node in tree.nodes:
        by_row.setdefault(node.y, []).append(node.x)
        assert node.x >= 0 and node.x + insight.NODE_WIDTH <= tree.width
        if node.children:
            assert node.children[0].x <= node.x <= node.children[-1].x
    for xs in by_row.values():
        xs.sort()
        assert all(b - a >= insight.NODE_WIDTH + insight.GAP_X for a, b in pairwise(xs))
    assert len(tree.edges) == len(tree.nodes) - 1


def test_a_member_sees_how_many_neighbours_they_brought_to_how_many_producers(world):
    mine = insight.my_insight(world.a)

    assert mine.buyers == 3  # C, D and F
    assert [(row.farm_name, row.buyers) for row in mine.producers] == [("느릅골 농장", 3)]
    by_link = {row.link.id: (row.title, row.visitors, row.direct, row.further) for row in mine.links}
    assert by_link == {world.links.a_sale: ("토요일 김치", 2, 1, 1), world.links.a_group_buy: ("북쪽 밭 배추", 1, 1, 0)}


def test_a_member_who_brought_nobody_sees_zero(world):
    mine = insight.my_insight(world.e)
    assert (mine.buyers, mine.producers, mine.links) == (0, [], [])


# -- Pages ----------------------------------------------------------------------------------------

PAGES = {
    "farm": lambda w: f"/producers/{w.producer.slug}/recommendations",
    "sale": lambda w: f"/sales/{w.sale.id}/recommendations",
    "group-buy": lambda w: f"/group-buys/{w.group_buy.id}/recommendations",
}


@pytest.mark.parametrize("page", PAGES)
def test_only_the_owner_sees_a_producers_insight(world, client, auth, page):  # noqa: F811
    path = PAGES[page](world)
    assert client.get(path).status_code == 302  # guests are sent to sign in
    make_producer(make_user("neighbour@example.com"))
    for someone_else in ("a@example.com", "neighbour@example.com"):
        auth.login(someone_else)
        assert client.get(path).status_code == 403
        auth.logout()
    auth.login("owner@example.com")
    response = client.get(path)
    assert response.status_code == 200
    assert "What recommendations brought" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/producers/nobody/recommendations", "/sales/999/recommendations",
                                  "/group-buys/999/recommendations"])  # fmt: skip
def test_insight_of_something_missing_is_not_found(world, client, auth, path):  # noqa: F811
    auth.login("owner@example.com")
    assert client.get(path).status_code == 404


def test_the_owner_reaches_the_insight_from_their_pages(world, client, auth):  # noqa: F811
    auth.login("owner@example.com")
    for page, target in [
        (f"/producers/{world.producer.slug}", PAGES["farm"](world)),
        (f"/sales/{world.sale.id}/roster", PAGES["sale"](world)),
        (f"/group-buys/{world.group_buy.id}/allocation", PAGES["group-buy"](world)),
    ]:
        assert f'href="{quote(target)}"' in client.get(page).get_data(as_text=True)


def svg_texts(html: str) -> list[str]:
    return re.findall(r"<text [^>]*>([^<]*)</text>", html)


def test_the_sale_page_shows_lengths_names_with_consent_and_the_spread_as_inline_svg(world, client, auth):  # noqa: F811
    auth.login("owner@example.com")
    response = client.get(PAGES["sale"](world))
    html = response.get_data(as_text=True)

    assert "<svg" in html and "<script" not in html.split("<main", 1)[1]
    assert "style=" not in html  # the CSP allows no inline styles
    texts = svg_texts(html)
    assert texts.count("지연") == 1 and "a neighbour" in texts and "a former member" in texts
    assert "민호" not in html  # hid her name
    assert "opened by 2" in texts and "bought 1" in texts
    assert '<tr><td>지연</td><td class="num">1</td><td class="num">2</td></tr>' in html


def test_recommender_names_are_escaped_in_tables_and_pictures(world, client, auth):  # noqa: F811
    world.a.display_name = "<b>지연지연지연</b>"
    db.session.commit()
    auth.login("owner@example.com")
    html = client.get(PAGES["farm"](world)).get_data(as_text=True)

    assert "<b>" not in html
    assert "<td>&lt;b&gt;지연지연지연&lt;/b&gt;</td>" in html  # the table
    assert "&lt;b&gt;지연지연지…" in svg_texts(html)  # the box: at most 15 columns, "…" included


def test_my_recommendations_show_counts_and_credit_but_never_what_others_bought(world, client, auth):  # noqa: F811
    services.grant_credit(world.a, amount=3_000, key="welcome-a", now=NOW)
    assert client.get("/me/recommendations").status_code == 302
    auth.login("a@example.com")
    html = client.get("/me/recommendations").get_data(as_text=True)

    assert "Your recommendations brought 3 neighbours to 1 producer." in html
    assert "토요일 김치" in html and "북쪽 밭 배추" in html  # what A shared
    assert "Gift from farmstore" in html and "₩3,000" in html
    for other in ("소라", "다니엘", "프랭크", "은지", "민호", "배추김치"):  # buyers, and what they bought
        assert other not in html
    assert 'href="/me/recommendations"' in html  # in the menu


# -- Bounded queries ------------------------------------------------------------------------------


@contextmanager
def counted_statements(app):
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def statements_per_page(app, client, auth, world) -> dict[str, int]:  # noqa: F811
    counts = {}
    for page, email, path in [
        *(("farm owner " + name, "owner@example.com", path(world)) for name, path in PAGES.items()),
        ("member", "a@example.com", "/me/recommendations"),
    ]:
        auth.login(email)
        with counted_statements(app) as statements:
            assert client.get(path).status_code == 200
        counts[page] = len(statements)
        auth.logout()
    return counts


def grow(world, members: int) -> None:
    """`members` more people pass A's sale link along one after another (chains as deep as they go),
    each opened by a guest too; every one of them buys and pledges."""
    link = services.link_of(world.a, "sale", world.sale.id)
    for n in range(members):
        person = make_user(f"more{n}@example.com", display_name=f"이웃 {n}")
        visit(link, person)
        services.open_link(link, user=None, guest=f"guest-{n}", now=NOW)
        buy(world.sale, person)
        pledge(group_buy=world.group_buy, buyer=person, units=1, now=NOW)
        link = share(person, "sale", world.sale, show_name=n % 2 == 0)
    services.grant_credit(world.a, amount=1_000, key="more", now=NOW)


def test_insight_pages_run_as_many_statements_for_big_data_as_for_small(app, client, auth, world):  # noqa: F811
    services.grant_credit(world.a, amount=1_000, key="first", now=NOW)
    client.get("/")  # warm up: templates and translations
    small = statements_per_page(app, client, auth, world)
    grow(world, 30)
    big = statements_per_page(app, client, auth, world)

    print(f"\nSQL statements per insight page: {small} with 8 members, {big} with 38")
    assert insight.my_insight(world.a).buyers == 3 + 10  # chains stop at 10 links: later ones start anew
    assert small == big


# -- In a browser ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_on_a_phone_a_wide_spread_scrolls_inside_its_box_and_the_pages_break_no_rule(
    world,
    live_server,
    page: Page,
    output_path,
    console_errors,  # noqa: F811
):
    a_sale = services.link_of(world.a, "sale", world.sale.id)
    for n in range(6):  # six more people share A's link on: a tree wider than a phone
        person = make_user(f"wide{n}@example.com", display_name=f"이웃{n}")
        visit(a_sale, person)
        buy(world.sale, person)
        share(person, "sale", world.sale)
    sign_in(page, live_server, "owner@example.com")

    page.goto(live_server + PAGES["sale"](world))
    tree = page.locator("main .spread").first
    expect(tree.locator("svg")).to_be_visible()
    assert horizontal_overflow(page) <= 0
    assert tree.evaluate("box => box.scrollWidth > box.clientWidth")  # the picture scrolls in its box
    screenshot(page, output_path, "sale-insight.png")

    page.context.clear_cookies()
    sign_in(page, live_server, "a@example.com")
    page.goto(live_server + "/me/recommendations")
    expect(page.locator("main .lead")).to_contain_text("9")  # C, D, F and the six
    assert horizontal_overflow(page) <= 0
    screenshot(page, output_path, "my-recommendations.png")
    assert console_errors == []  # no CSP violation from the inline SVG
