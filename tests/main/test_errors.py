"""Service errors quote user text; pages must show it escaped, never as HTML."""

from __future__ import annotations

from flask import flash, render_template_string
from flask_babel import lazy_gettext as _l

from farmstore.errors import DomainError


def test_an_error_quoting_user_text_is_escaped_on_the_page(app):
    error = DomainError(_l("Sorry, %(name)s just sold out.", name="<script>alert(1)</script>"))

    with app.test_request_context("/"):
        flash(error.message, "error")
        html = render_template_string("{% for m in get_flashed_messages() %}{{ m }}{% endfor %}")
        direct = render_template_string("{{ message }}", message=error.message)

    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>" not in direct
    assert isinstance(error.message, str)
