"""The share landing (issue 13): a friend who opens a share link sees who sent it (only if the
sender agreed to show their name) and the sender's endorsement note, once, on the page they land on."""

from __future__ import annotations

from farmstore.extensions import db
from farmstore.referrals import services
from farmstore.timeutil import utcnow
from tests.referrals.test_views import live_world


def test_the_friend_sees_who_sent_it_and_the_note_on_the_landing_page(client, ctx):
    world = live_world()
    services.endorse(world.a, kind="producer", target_id=world.producer.id, note="배추가 달고 아삭해요", now=utcnow())
    link = services.share(world.a, kind="sale", target_id=world.sale.id, now=utcnow())

    landing = client.get(f"/r/{link.token}", follow_redirects=True)
    html = landing.get_data(as_text=True)

    assert landing.request.path == f"/sales/{world.sale.id}"
    assert f"{world.a.display_name} recommended this to you" in html
    assert "배추가 달고 아삭해요" in html
    again = client.get(f"/sales/{world.sale.id}").get_data(as_text=True)
    assert "recommended this to you" not in again  # greeted once


def test_without_consent_the_name_stays_hidden(client, ctx):
    world = live_world()
    link = services.share(world.a, kind="sale", target_id=world.sale.id, now=utcnow(), show_name=False)
    services.endorse(world.a, kind="producer", target_id=world.producer.id, note="믿고 사요", now=utcnow())
    db.session.commit()

    html = client.get(f"/r/{link.token}", follow_redirects=True).get_data(as_text=True)

    assert world.a.display_name not in html.split("<main", 1)[1].split("</aside>", 1)[0]
    assert "A friend recommended this to you" in html
    assert "믿고 사요" in html
