"""`flask farm make-operator EMAIL`: the only way an account becomes an operator."""

from farmstore.accounts.models import User
from farmstore.extensions import db
from tests.factories import make_user


def test_make_operator_gives_an_account_operator_rights(app, runner):
    with app.app_context():
        user_id = make_user("farmer@example.com").id

    result = runner.invoke(args=["farm", "make-operator", "Farmer@Example.com"])

    assert result.exit_code == 0
    assert "farmer@example.com is now an operator." in result.output
    with app.app_context():
        assert db.session.get(User, user_id).is_operator


def test_make_operator_with_an_unknown_email_fails_and_says_why(app, runner):
    with app.app_context():
        user_id = make_user("farmer@example.com").id

    result = runner.invoke(args=["farm", "make-operator", "nobody@example.com"])

    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "nobody@example.com" in result.output
    with app.app_context():
        assert not db.session.get(User, user_id).is_operator
