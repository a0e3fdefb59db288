"""Request-wide wiring: who is signed in, error pages, security headers, template globals."""

from __future__ import annotations

from flask import abort, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from farmstore.errors import NotFound
from farmstore.extensions import db, login_manager
from farmstore.text import plain_text, render_markdown
from farmstore.urls import external_url

ERROR_PAGES = {
    400: (_l("Bad request"), _l("Something in that request was not right. Nothing was changed.")),
    403: (_l("Not allowed"), _l("You do not have permission to do that.")),
    404: (_l("Page not found"), _l("We could not find that page. It may have moved or been removed.")),
    405: (_l("Not allowed"), _l("That action is not available here.")),
    413: (
        _l("That text is too long"),
        _l("Nothing was saved. Go back: what you typed is still in the form, shorten it and send it again."),
    ),
    429: (_l("Too many attempts"), _l("Too many attempts. Please wait a minute and try again.")),
    500: (_l("Something went wrong"), _l("Something went wrong on our side. Nothing was lost; please try again.")),
}

PHOTOS_TOO_LARGE = (
    _l("Photos too large"),
    _l("The upload was too large. Nothing was saved; try fewer or smaller photos."),
)

CSRF_MESSAGE = _l(
    "This form has expired or was not sent from our site. "
    "Nothing was changed; please go back, reload the page and try again."
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def found(loader, *args):
    """What `loader(*args)` finds, or the 404 page when it raises NotFound."""
    try:
        return loader(*args)
    except NotFound:
        abort(404)


def owner_only(producer) -> None:
    """The 403 page unless the signed-in user owns `producer`."""
    if not producer.is_owned_by(current_user):
        abort(403)


def render_error(code: int, message=None, title=None):
    """A friendly error page in the user's language."""
    default_title, default_message = ERROR_PAGES.get(code, ERROR_PAGES[500])
    page = render_template(
        "errors/error.html", code=code, title=title or default_title, message=message or default_message
    )
    return page, code


def too_large(_error):
    """A body over a limit. Only an upload beyond the request cap is about photos; otherwise a text
    field went over the form-memory cap (werkzeug's MAX_FORM_MEMORY_SIZE) and the page says so."""
    photos = request.mimetype == "multipart/form-data" and (request.content_length or 0) > (
        current_app.config["MAX_CONTENT_LENGTH"] or 0
    )
    if photos:
        title, message = PHOTOS_TOO_LARGE
        return render_error(413, message, title)
    return render_error(413)


def init_app(app) -> None:
    """Register the user loader, error handlers, headers and template globals."""

    @login_manager.user_loader
    def load_user(user_id: str):
        from farmstore.accounts.models import User

        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    for code in ERROR_PAGES:
        app.register_error_handler(code, lambda error, code=code: render_error(code))
    app.register_error_handler(413, too_large)

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return render_error(400, CSRF_MESSAGE)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Language", str(get_locale() or ""))
        if app.config["FARMSTORE_ENV"] == "production":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["plain"] = plain_text
    # Shared links (canonical, Open Graph) use BASE_URL, like emails: never the request's Host.
    app.jinja_env.globals["external_url"] = external_url

    @app.context_processor
    def template_globals():
        return {
            "current_locale": str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"]),
            "languages": {"ko": "한국어", "en": "English"},
            "request_path": request.full_path.rstrip("?") if request else "/",
            # What static/js/limits.js checks before a form is sent.
            "body_limits": {
                "max-request": app.config["MAX_CONTENT_LENGTH"] or 0,
                "max-text": app.config.get("MAX_FORM_MEMORY_SIZE") or 0,
                "max-photo": app.config["MAX_PHOTO_BYTES"],
            },
        }
