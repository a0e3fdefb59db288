"""Account pages."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from farmstore.accounts import bp, services
from farmstore.accounts.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
    SettingsForm,
)
from farmstore.errors import DomainError
from farmstore.extensions import limiter
from farmstore.forms import show_error
from farmstore.i18n import select_locale
from farmstore.timeutil import utcnow


def safe_next(default: str = "main.home") -> str:
    """The `next` target if it stays on this site, else `default`. Browsers drop tabs and
    newlines from URLs and read a backslash as a slash, so "/\\t/evil.example" would leave
    the site: a target with any of them is refused (a newline would also break the header)."""
    target = request.args.get("next") or request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and target.isprintable() and "\\" not in target:
        return target
    return url_for(default)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_email_key() -> str:
    return "login-email:" + (request.form.get("email") or "").strip().lower()


def _failed(response) -> bool:
    """Only failed sign-ins count towards the throttle (a success redirects)."""
    return response.status_code != 302


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"], deduct_when=lambda r: r.status_code == 302)
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_user(
                email=form.email.data,
                password=form.password.data,
                display_name=form.display_name.data,
                locale=select_locale(),
                now=utcnow(),
            )
        except DomainError as error:
            show_error(form, error)
        else:
            login_user(user)
            flash(_("Welcome to farmstore, %(name)s!", name=user.display_name), "success")
            return redirect(safe_next())
    return render_template("accounts/register.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed, key_func=_login_email_key)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(email=form.email.data, password=form.password.data, now=utcnow())
        except DomainError as error:
            show_error(form, error)
        else:
            login_user(user, remember=form.remember.data)
            return redirect(safe_next())
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("main.home"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def settings():
    form = SettingsForm(obj=current_user)
    if request.method == "GET":
        form.locale.data = current_user.locale or ""
    if form.validate_on_submit():
        try:
            services.update_settings(
                current_user,
                display_name=form.display_name.data,
                locale=form.locale.data or None,
                phone=form.phone.data or "",
            )
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Your settings are saved."), "success")
            return redirect(url_for("accounts.settings"))
    return render_template("accounts/settings.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
                now=utcnow(),
            )
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Your password is changed."), "success")
            return redirect(url_for("accounts.settings"))
    return render_template("accounts/change_password.html", form=form)


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(email=form.email.data, now=utcnow())
        flash(_("If an account uses that email, a reset link is on its way. Check your inbox."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    form = ResetPasswordForm()
    try:
        services.user_for_reset_token(token)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("accounts.forgot_password"))
    if form.validate_on_submit():
        try:
            user = services.reset_password(token=token, new_password=form.new_password.data, now=utcnow())
        except DomainError as error:
            show_error(form, error)
        else:
            login_user(user)
            flash(_("Your new password is set."), "success")
            return redirect(url_for("main.home"))
    return render_template("accounts/reset_password.html", form=form)
