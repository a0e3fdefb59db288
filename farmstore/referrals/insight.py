"""What recommendations brought: for a producer (overall, per sale, per group-buy) and for a member.

Rules, in one place:
- A purchase is an order that holds stock (reserved, confirmed, picked up, not collected) or a
  pledge that holds units (pledged, pay at pickup, paid, payment failed). Cancelled and expired
  orders and withdrawn or released pledges are not counted anywhere here.
- A purchase's chain length is its Referral's `length`; a purchase without a Referral has length 0
  (nobody led the buyer to it).
- A recommender "brought" the distinct buyers of the purchases whose chain they are in: directly at
  position 1, or anywhere in the chain. A buyer whose account is gone still counts once per purchase.
- Producers see a recommender's name only if every chain entry of theirs in view was recorded with
  their consent; otherwise "a neighbour". A deleted account is "a former member".
- Reach is the number of distinct visitors (members and guests) who opened a share link: all the
  producer's links overall, the links pointing at the sale or group-buy for one of those.
- The spread picture shows the producer's share links as trees (a link hangs from the link its
  maker arrived through). For a sale or group-buy, the links are those pointing at it and those in
  the chains of its purchases. Only the biggest trees and, in each, the biggest branches are drawn.
- Nobody sees what another buyer bought: a member's insight holds counts and producer names only.
- Every function here runs a fixed number of SQL statements, whatever the number of links, visits
  and purchases (the aggregation happens in the database).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from unicodedata import east_asian_width

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, literal, or_, select, union_all

from farmstore.accounts.models import User
from farmstore.extensions import db
from farmstore.groupbuys.models import HOLDING_PLEDGE_STATUSES, GroupBuy, Pledge
from farmstore.producers.models import Producer
from farmstore.referrals.models import ChainEntry, LinkVisit, Referral, ShareLink
from farmstore.sales.models import ACTIVE_ORDER_STATUSES, Order, Sale

LONGEST_BUCKET = 3  # chain lengths of 3 and more are shown together ("3+")
TOP_RECOMMENDERS = 10
TREES_SHOWN = 6  # the biggest trees drawn; the others are summed up as "and K more"
NODES_PER_TREE = 15  # links drawn per tree; smaller branches are summed up as "+K"
MY_LINKS_SHOWN = 100

# Tree layout, in SVG user units (CSS pixels): three boxes side by side fit a 360 px wide phone.
NODE_WIDTH, NODE_HEIGHT, GAP_X, GAP_Y, MARGIN = 100, 54, 10, 26, 4
NAME_WIDTH = 15  # a name in a box: 15 narrow or 7 wide (Hangul, CJK) characters at 12 px


@dataclass(frozen=True)
class Scope:
    """Which part of a producer's recommendations to look at: everything, one sale or one group-buy."""

    producer_id: int
    sale_id: int | None = None
    group_buy_id: int | None = None

    @property
    def target(self) -> tuple[str, int] | None:
        """The share-link target this scope is about (None for the whole producer)."""
        if self.sale_id is not None:
            return "sale", self.sale_id
        if self.group_buy_id is not None:
            return "groupbuy", self.group_buy_id
        return None

    def referrals(self):
        """The WHERE clause of the Referrals in this scope."""
        if self.sale_id is not None:
            return Referral.sale_id == self.sale_id
        if self.group_buy_id is not None:
            return Referral.group_buy_id == self.group_buy_id
        return Referral.producer_id == self.producer_id

    def links(self):
        """The WHERE clause of the share links drawn for this scope."""
        if self.target is None:
            return ShareLink.producer_id == self.producer_id
        kind, target_id = self.target
        in_chains = select(ChainEntry.link_id).join(Referral).where(self.referrals(), ChainEntry.link_id.is_not(None))
        return or_(
            and_(
                ShareLink.producer_id == self.producer_id,
                ShareLink.target_kind == kind,
                ShareLink.target_id == target_id,
            ),
            ShareLink.id.in_(in_chains),
        )


def _counted(statement):
    """Join a statement on Referral to its order or pledge and keep the purchases that count."""
    return (
        statement.outerjoin(Order, Order.id == Referral.order_id)
        .outerjoin(Pledge, Pledge.id == Referral.pledge_id)
        .where(or_(Order.status.in_(ACTIVE_ORDER_STATUSES), Pledge.status.in_(HOLDING_PLEDGE_STATUSES)))
    )


def _buyer():
    """Who bought a referred purchase; a buyer whose account is gone counts once per purchase."""
    return func.coalesce(Referral.buyer_id, -Referral.id)


def recommender_names():
    """A function naming recommenders to a producer: their name only with their consent, "a
    neighbour" otherwise, "a former member" once the account is gone. (The two labels are
    translated once: gettext for each of 5,000 links would take longer than the queries.)"""
    former, neighbour = _("a former member"), _("a neighbour")

    def name(user_id: int | None, display_name: str | None, consented: bool) -> str:
        if user_id is None:
            return former
        return display_name if consented else neighbour

    return name


# -- Purchases by chain length -------------------------------------------------------------------


@dataclass
class LengthRow:
    """Purchases whose chain had this many recommenders (`label` "3+" for the longest bucket)."""

    length: int
    label: str
    purchases: int
    percent: int


def purchases_by_length(scope: Scope) -> list[LengthRow]:
    """Orders and pledges in scope by chain length, 0 (nobody) to LONGEST_BUCKET+: two statements."""
    length = func.coalesce(Referral.length, 0)
    queries = []
    if scope.group_buy_id is None:
        where = Order.sale_id == scope.sale_id if scope.sale_id is not None else Sale.producer_id == scope.producer_id
        queries.append(
            select(length, func.count(Order.id))
            .select_from(Order)
            .join(Sale, Sale.id == Order.sale_id)
            .outerjoin(Referral, Referral.order_id == Order.id)
            .where(where, Order.status.in_(ACTIVE_ORDER_STATUSES))
            .group_by(length)
        )
    if scope.sale_id is None:
        where = (
            Pledge.group_buy_id == scope.group_buy_id
            if scope.group_buy_id is not None
            else GroupBuy.producer_id == scope.producer_id
        )
        queries.append(
            select(length, func.count(Pledge.id))
            .select_from(Pledge)
            .join(GroupBuy, GroupBuy.id == Pledge.group_buy_id)
            .outerjoin(Referral, Referral.pledge_id == Pledge.id)
            .where(where, Pledge.status.in_(HOLDING_PLEDGE_STATUSES))
            .group_by(length)
        )
    counts = [0] * (LONGEST_BUCKET + 1)
    for query in queries:
        for chain_length, purchases in db.session.execute(query):
            counts[min(chain_length, LONGEST_BUCKET)] += purchases
    total = sum(counts)
    return [
        LengthRow(
            length=n, label=f"{n}+" if n == LONGEST_BUCKET else str(n), purchases=count,
            percent=round(100 * count / total) if total else 0,
        )
        for n, count in enumerate(counts)
    ]  # fmt: skip


# -- Recommenders ---------------------------------------------------------------------------------


@dataclass
class RecommenderRow:
    """A recommender and the distinct buyers they brought, directly and anywhere in a chain."""

    name: str
    direct: int
    anywhere: int


def top_recommenders(scope: Scope, *, limit: int = TOP_RECOMMENDERS) -> list[RecommenderRow]:
    """The recommenders who brought the most buyers in scope (directly first, then anywhere in the
    chain): one statement. Former members are told apart by the link they shared."""
    who = func.coalesce(ChainEntry.user_id, -func.coalesce(ChainEntry.link_id, 0))
    direct = func.count(func.distinct(case((ChainEntry.position == 1, _buyer()))))
    anywhere = func.count(func.distinct(_buyer()))
    consented = func.min(case((ChainEntry.show_name, 1), else_=0))
    top = (
        _counted(
            select(ChainEntry.user_id, who.label("who"), direct.label("direct"), anywhere.label("anywhere"),
                   consented.label("consented"))
            .select_from(ChainEntry)
            .join(Referral, Referral.id == ChainEntry.referral_id)
            .where(scope.referrals())
        )
        .group_by(who, ChainEntry.user_id)
        .order_by(direct.desc(), anywhere.desc(), who)
        .limit(limit)
        .subquery()
    )  # fmt: skip
    rows = db.session.execute(  # names for the top few only: sorting integers is cheaper than sorting names
        select(top.c.user_id, User.display_name, top.c.direct, top.c.anywhere, top.c.consented)
        .outerjoin(User, User.id == top.c.user_id)
        .order_by(top.c.direct.desc(), top.c.anywhere.desc(), top.c.who)
    )
    name_of = recommender_names()
    return [
        RecommenderRow(name=name_of(user_id, name, bool(ok)), direct=d, anywhere=a) for user_id, name, d, a, ok in rows
    ]


def reach(scope: Scope) -> int:
    """Distinct people who opened a share link in scope: one statement. (DISTINCT in a subquery lets
    PostgreSQL hash the visitors instead of sorting them: twice as fast at 100,000 visits.)"""
    visitors = select(LinkVisit.visitor).where(LinkVisit.producer_id == scope.producer_id)
    if scope.target is not None:
        kind, target_id = scope.target
        visitors = visitors.join(ShareLink, ShareLink.id == LinkVisit.link_id).where(
            ShareLink.target_kind == kind, ShareLink.target_id == target_id
        )
    return db.session.scalar(select(func.count()).select_from(visitors.distinct().subquery()))


# -- How the word spread --------------------------------------------------------------------------


@dataclass(slots=True)
class TreeNode:
    """One share link drawn in the spread picture, or (`hidden` > 0) a box summing up the smaller
    branches left out under its parent. x, y are the box's top-left corner."""

    id: int
    name: str
    visitors: int = 0
    purchases: int = 0
    hidden: int = 0
    children: list[TreeNode] = field(default_factory=list)
    links: int = 1  # links in the subtree, this one included
    reached: int = 0  # visitors over the subtree
    bought: int = 0  # purchases over the subtree
    x: int = 0
    y: int = 0

    @property
    def weight(self) -> tuple[int, int, int]:
        return self.bought, self.reached, self.links

    @property
    def short_name(self) -> str:
        """The name cut to fit its box."""
        return _fit(self.name, NAME_WIDTH)


def _fit(text: str, width: int) -> str:
    """`text` cut (with "…") to `width` columns; wide characters take two."""
    columns = [2 if east_asian_width(char) in "WF" else 1 for char in text]
    if sum(columns) <= width:
        return text
    used, cut = 1, 0  # the ellipsis takes one column
    while used + columns[cut] <= width:
        used += columns[cut]
        cut += 1
    return text[:cut] + "…"


@dataclass
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def path(self) -> str:
        middle = (self.y1 + self.y2) // 2
        return f"M{self.x1} {self.y1} C{self.x1} {middle} {self.x2} {middle} {self.x2} {self.y2}"


@dataclass
class Tree:
    """One tree of links laid out top-down, ready to draw as an SVG `width` × `height`."""

    root: TreeNode
    nodes: list[TreeNode]
    edges: list[Edge]
    width: int
    height: int


@dataclass
class Spread:
    """The trees drawn, and how many trees (and links in them) were left out."""

    trees: list[Tree]
    more_trees: int
    more_links: int
    links: int


def _tree_nodes(scope: Scope) -> dict[int, tuple[int | None, TreeNode]]:
    """Every link in scope as {id: (parent id, node)} with its visitors and purchases: three statements."""
    rows = db.session.execute(
        select(ShareLink.id, ShareLink.parent_id, ShareLink.user_id, ShareLink.show_name, User.display_name)
        .outerjoin(User, User.id == ShareLink.user_id)
        .where(scope.links())
    )
    name_of = recommender_names()
    nodes = {
        link_id: (parent_id, TreeNode(id=link_id, name=name_of(user_id, name, show_name)))
        for link_id, parent_id, user_id, show_name, name in rows
    }
    visits = (  # from the links to their visits: the (link, visitor, day) unique index has them in order
        select(LinkVisit.link_id, func.count(func.distinct(LinkVisit.visitor)))
        .join(ShareLink, ShareLink.id == LinkVisit.link_id)
        .where(scope.links())
        .group_by(LinkVisit.link_id)
    )
    for link_id, visitors in db.session.execute(visits):
        if link_id in nodes:
            nodes[link_id][1].visitors = visitors
    bought = _counted(
        select(Referral.link_id, func.count(Referral.id)).where(scope.referrals(), Referral.link_id.is_not(None))
    )
    for link_id, purchases in db.session.execute(bought.group_by(Referral.link_id)):
        if link_id in nodes:
            nodes[link_id][1].purchases = purchases
    return nodes


def _sum_up(node: TreeNode) -> None:
    """Subtree totals, children biggest first (iterative: chains may be deep)."""
    order, stack = [], [node]
    while stack:
        current = stack.pop()
        order.append(current)
        stack.extend(current.children)
    for current in reversed(order):
        current.links = 1 + sum(child.links for child in current.children)
        current.reached = current.visitors + sum(child.reached for child in current.children)
        current.bought = current.purchases + sum(child.bought for child in current.children)
        current.children.sort(key=lambda child: child.weight, reverse=True)


def _prune(root: TreeNode, budget: int) -> None:
    """Keep the `budget` biggest links of a tree (breadth first, biggest first); each parent gets
    one "+K" box for the links left out below it."""
    kept, frontier = 1, [root]
    while frontier:
        next_frontier = []
        for node in frontier:
            keep = []
            for child in node.children:
                if kept < budget:
                    keep.append(child)
                    kept += 1
            left_out = sum(child.links for child in node.children[len(keep) :])
            if left_out:
                keep.append(TreeNode(id=-node.id, name="", hidden=left_out))
            node.children = keep
            next_frontier.extend(child for child in keep if not child.hidden)
        frontier = next_frontier


def _layout(root: TreeNode) -> Tree:
    """Top-down layout: leaves side by side in order, each parent above its first (biggest) child,
    so the root stays in the top-left corner where a phone shows it first; wider trees scroll."""
    nodes, edges, slot = [], [], 0
    stack: list[tuple[TreeNode, int, bool]] = [(root, 0, False)]
    while stack:  # post-order, without recursion
        node, depth, done = stack.pop()
        node.y = MARGIN + depth * (NODE_HEIGHT + GAP_Y)
        if not node.children:
            node.x, slot = MARGIN + slot * (NODE_WIDTH + GAP_X), slot + 1
        elif done:
            node.x = node.children[0].x
        else:
            stack.append((node, depth, True))
            stack.extend((child, depth + 1, False) for child in reversed(node.children))
            continue
        nodes.append(node)
    for node in nodes:
        for child in node.children:
            edges.append(Edge(node.x + NODE_WIDTH // 2, node.y + NODE_HEIGHT, child.x + NODE_WIDTH // 2, child.y))
    width = MARGIN * 2 + slot * (NODE_WIDTH + GAP_X) - GAP_X
    height = max(node.y for node in nodes) + NODE_HEIGHT + MARGIN
    return Tree(root=root, nodes=nodes, edges=edges, width=width, height=height)


def spread(scope: Scope, *, trees: int = TREES_SHOWN, nodes_per_tree: int = NODES_PER_TREE) -> Spread:
    """The share links in scope as trees, the biggest `trees` of them laid out: three statements."""
    found = _tree_nodes(scope)
    roots = []
    for parent_id, node in found.values():
        if parent_id in found:
            found[parent_id][1].children.append(node)
        else:  # a chain's first link, or hanging from a link outside the scope
            roots.append(node)
    for root in roots:
        _sum_up(root)
    roots.sort(key=lambda root: (root.weight, -root.id), reverse=True)
    shown, left = roots[:trees], roots[trees:]
    for root in shown:
        _prune(root, nodes_per_tree)
    return Spread(
        trees=[_layout(root) for root in shown],
        more_trees=len(left),
        more_links=sum(root.links for root in left),
        links=len(found),
    )


# -- Pages ----------------------------------------------------------------------------------------


@dataclass
class Insight:
    """Everything a producer's recommendations page shows for one scope."""

    scope: Scope
    lengths: list[LengthRow]
    recommenders: list[RecommenderRow]
    reach: int
    spread: Spread

    @property
    def purchases(self) -> int:
        return sum(row.purchases for row in self.lengths)

    @property
    def recommended(self) -> int:
        return sum(row.purchases for row in self.lengths if row.length > 0)


def insight(scope: Scope) -> Insight:
    """A producer's view of what recommendations brought in `scope`: nine statements at most."""
    return Insight(
        scope=scope, lengths=purchases_by_length(scope), recommenders=top_recommenders(scope), reach=reach(scope),
        spread=spread(scope),
    )  # fmt: skip


def producer_insight(producer: Producer) -> Insight:
    """All of a producer's sales and group-buys."""
    return insight(Scope(producer_id=producer.id))


def sale_insight(sale: Sale) -> Insight:
    """One sale."""
    return insight(Scope(producer_id=sale.producer_id, sale_id=sale.id))


def group_buy_insight(group_buy: GroupBuy) -> Insight:
    """One group-buy."""
    return insight(Scope(producer_id=group_buy.producer_id, group_buy_id=group_buy.id))


# -- A member's own recommendations ---------------------------------------------------------------


@dataclass
class ProducerReach:
    """Buyers a member's recommendations brought to one producer (counts only)."""

    farm_name: str
    slug: str
    buyers: int


@dataclass
class MyLink:
    """One of the member's share links and what it brought."""

    link: ShareLink
    title: str
    farm_name: str
    visitors: int = 0
    direct: int = 0
    further: int = 0


@dataclass
class MyInsight:
    """What a member's recommendations brought: distinct buyers to distinct producers, per link."""

    buyers: int
    producers: list[ProducerReach]
    links: list[MyLink]


def _titles(user_id: int) -> dict[tuple[str, int], str]:
    """The titles of everything the member shared, whatever its kind: one statement."""
    from farmstore.catalog.models import Product
    from farmstore.stories.models import StoryPost, Subject

    columns = {
        "producer": (Producer.id, Producer.farm_name),
        "subject": (Subject.id, Subject.name),
        "story": (StoryPost.id, StoryPost.title),
        "product": (Product.id, Product.name),
        "sale": (Sale.id, Sale.title),
        "groupbuy": (GroupBuy.id, GroupBuy.title),
    }
    parts = []
    for kind, (id_column, title) in columns.items():
        shared = select(ShareLink.target_id).where(ShareLink.user_id == user_id, ShareLink.target_kind == kind)
        parts.append(select(literal(kind), id_column, title).where(id_column.in_(shared)))
    return {(kind, target_id): title for kind, target_id, title in db.session.execute(union_all(*parts))}


def my_insight(user, *, limit: int = MY_LINKS_SHOWN) -> MyInsight:
    """A member's recommendations: how many distinct buyers they brought and to which producers
    (counts and names of producers only, never who bought or what), and per link (newest
    `limit`) who opened it and the purchases it led to. Six statements."""

    def mine(*columns):
        """The member's counted chain entries, as `columns`."""
        return _counted(
            select(*columns)
            .select_from(ChainEntry)
            .join(Referral, Referral.id == ChainEntry.referral_id)
            .where(ChainEntry.user_id == user.id)
        )

    buyers = db.session.scalar(mine(func.count(func.distinct(_buyer()))))
    per_producer = db.session.execute(
        mine(Producer.farm_name, Producer.slug, func.count(func.distinct(_buyer())))
        .join(Producer, Producer.id == Referral.producer_id)
        .group_by(Producer.id, Producer.farm_name, Producer.slug)
        .order_by(func.count(func.distinct(_buyer())).desc(), Producer.farm_name)
    )
    rows = db.session.execute(
        select(ShareLink, Producer.farm_name)
        .join(Producer, Producer.id == ShareLink.producer_id)
        .where(ShareLink.user_id == user.id)
        .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
        .limit(limit)
    )
    titles = _titles(user.id)
    links = {
        link.id: MyLink(link=link, title=titles.get((link.target_kind, link.target_id), ""), farm_name=farm_name)
        for link, farm_name in rows
    }
    visitors = (
        select(LinkVisit.link_id, func.count(func.distinct(LinkVisit.visitor)))
        .join(ShareLink, ShareLink.id == LinkVisit.link_id)
        .where(ShareLink.user_id == user.id)
        .group_by(LinkVisit.link_id)
    )
    for link_id, count in db.session.execute(visitors):
        if link_id in links:
            links[link_id].visitors = count
    led = mine(
        ChainEntry.link_id, func.sum(case((ChainEntry.position == 1, 1), else_=0)), func.count(ChainEntry.id)
    ).group_by(ChainEntry.link_id)
    for link_id, direct, total in db.session.execute(led):
        if link_id in links:
            links[link_id].direct, links[link_id].further = direct, total - direct
    return MyInsight(
        buyers=buyers,
        producers=[ProducerReach(farm_name=name, slug=slug, buyers=n) for name, slug, n in per_producer],
        links=list(links.values()),
    )


def credit_producers(entries) -> dict[int, str]:
    """The names of the producers a member's credit movements came from or went to: one statement."""
    ids = {entry.producer_id for entry in entries if entry.producer_id is not None}
    return dict(db.session.execute(select(Producer.id, Producer.farm_name).where(Producer.id.in_(ids))).all())
