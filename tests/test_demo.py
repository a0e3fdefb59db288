"""`flask farm seed-demo` gives a newcomer a living site, and running it again changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from farmstore.accounts.models import User
from farmstore.extensions import db
from farmstore.media.models import Photo
from farmstore.producers.models import Producer
from farmstore.villages.models import Village


def _counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (User, Village, Producer, Photo)
    }


def test_seed_demo_builds_a_village_with_three_producers(app, runner, client):
    result = runner.invoke(args=["farm", "seed-demo"])

    assert result.exit_code == 0, result.output
    with app.app_context():
        counts = _counts()
        village = db.session.scalar(select(Village))
        operators = db.session.scalar(select(func.count()).select_from(User).where(User.is_operator))
        farm_names = {p.farm_name for p in village.producers}
        photo_ok = all(p.photo is not None for p in village.producers) and village.cover_photo is not None
    assert counts["Village"] == 1 and counts["Producer"] == 3
    assert counts["User"] >= 3 + 3 + 1  # producers, buyers, an operator
    assert operators == 1
    assert farm_names == {"느릅골 한우농장", "들꽃차 할머니", "북쪽밭 배추"}
    assert photo_ok
    home = client.get("/").get_data(as_text=True)
    assert all(name in home for name in farm_names)


def test_seed_demo_is_idempotent(app, runner):
    runner.invoke(args=["farm", "seed-demo"])
    with app.app_context():
        before = _counts()

    again = runner.invoke(args=["farm", "seed-demo"])

    assert again.exit_code == 0, again.output
    with app.app_context():
        assert _counts() == before


def test_if_empty_leaves_an_existing_database_alone(app, runner):
    runner.invoke(args=["farm", "seed-demo"])
    with app.app_context():
        db.session.execute(db.delete(Producer))
        db.session.commit()

    result = runner.invoke(args=["farm", "seed-demo", "--if-empty"])

    assert "not loaded" in result.output
    with app.app_context():
        assert _counts()["Producer"] == 0
