"""Settings read from the environment (and an optional `.env`), with safe defaults.

Development needs nothing: SQLite under instance/, a secret key generated once per install,
mail written to instance/mail/ instead of being sent. Production (FARMSTORE_ENV=production)
refuses to start without SECRET_KEY and DATABASE_URL.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from dotenv import find_dotenv, load_dotenv


class ConfigError(RuntimeError):
    """The environment does not describe a runnable installation."""


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator gave."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret_key(instance_path: Path) -> str:
    """Generate a secret key once per install and keep it in instance/ (never in git).
    Written to a temp file and linked into place, so a racing process sees all or nothing."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=instance_path)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    try:
        os.link(tmp, key_file)
    except FileExistsError:  # another process got there first: use theirs
        pass
    finally:
        os.unlink(tmp)
    return key_file.read_text().strip()


def payment_providers(env) -> list[str]:
    """Pay-at-pickup, and the card provider PAYMENT_PROVIDER names (pickup, stripe or toss) once
    its keys are set. Unset, Stripe is used when its keys are set, else Toss when its keys are."""
    stripe_keys = bool(env.get("STRIPE_SECRET_KEY") and env.get("STRIPE_PUBLISHABLE_KEY"))
    toss_keys = bool(env.get("TOSS_SECRET_KEY") and env.get("TOSS_CLIENT_KEY"))
    chosen = (env.get("PAYMENT_PROVIDER") or "").strip().lower()
    if chosen not in ("", "pickup", "stripe", "toss"):
        raise ConfigError("PAYMENT_PROVIDER must be pickup, stripe or toss.")
    if not chosen:
        chosen = "stripe" if stripe_keys else "toss" if toss_keys else "pickup"
    if {"stripe": stripe_keys, "toss": toss_keys}.get(chosen):
        return ["pickup", chosen]
    if chosen != "pickup":
        raise ConfigError(f"PAYMENT_PROVIDER={chosen} needs its keys (see README, Payments).")
    return ["pickup"]


def load_settings(instance_path: Path) -> dict:
    """Return the Flask config mapping for this process's environment."""
    # Look for .env from the working directory, as `flask` does; without usecwd python-dotenv
    # searches from this file's folder instead (or from the cwd only under a debugger).
    load_dotenv(find_dotenv(usecwd=True), override=False)
    env = os.environ.get("FARMSTORE_ENV", "development").strip().lower()
    production = env == "production"

    secret_key = os.environ.get("SECRET_KEY")
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY must be set when FARMSTORE_ENV=production.")
        secret_key = _instance_secret_key(instance_path)

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        if production:
            raise ConfigError("DATABASE_URL must be set when FARMSTORE_ENV=production.")
        database_url = f"sqlite:///{instance_path / 'farmstore.db'}"

    redis_url = os.environ.get("REDIS_URL") or None
    if os.environ.get("DEAL_UNREDEEMED_POLICY", "stall") not in ("stall", "refund"):
        raise ConfigError("DEAL_UNREDEEMED_POLICY must be 'stall' or 'refund'.")
    smtp_host = os.environ.get("SMTP_HOST") or None

    return {
        "FARMSTORE_ENV": env,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # Links in emails, share links, labels, feeds and .ics files always point here, never at the
        # request's Host. Unset, it follows PORT (what `make run` serves on).
        "BASE_URL": os.environ.get("BASE_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or 5000}",
        # Host names this site answers to (comma-separated); unset accepts any Host header.
        "TRUSTED_HOSTS": [h.strip() for h in os.environ["TRUSTED_HOSTS"].split(",")]
        if os.environ.get("TRUSTED_HOSTS")
        else None,
        # Mail: SMTP when SMTP_HOST is set, otherwise .eml files under instance/mail/.
        "MAIL_BACKEND": "smtp" if smtp_host else "file",
        "SMTP_HOST": smtp_host,
        "SMTP_PORT": int(os.environ.get("SMTP_PORT", "587" if smtp_host else "25")),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME") or None,
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD") or None,
        "SMTP_SECURITY": os.environ.get("SMTP_SECURITY", "starttls").lower(),  # starttls|ssl|none
        "SMTP_TIMEOUT": float(os.environ.get("SMTP_TIMEOUT", "20")),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "farmstore <no-reply@farmstore.local>"),
        "MAIL_DIR": str(instance_path / "mail"),
        "MAIL_MAX_ATTEMPTS": int(os.environ.get("MAIL_MAX_ATTEMPTS", "8")),
        # Payments (used by the payments area).
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY") or None,
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY") or None,
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE") or None,
        # Saved cards for group-buys are set up for later off-session charges ("" turns it off,
        # e.g. against localstripe, which rejects the parameter).
        "STRIPE_SETUP_FUTURE_USAGE": os.environ.get("STRIPE_SETUP_FUTURE_USAGE", "off_session") or None,
        # Toss Payments, the card provider for Korean merchants (see README "Payments").
        "TOSS_CLIENT_KEY": os.environ.get("TOSS_CLIENT_KEY") or None,
        "TOSS_SECRET_KEY": os.environ.get("TOSS_SECRET_KEY") or None,
        "TOSS_API_BASE": os.environ.get("TOSS_API_BASE") or "https://api.tosspayments.com",
        "TOSS_SCRIPT_URL": os.environ.get("TOSS_SCRIPT_URL") or "https://js.tosspayments.com/v2/standard",
        # Pay-at-pickup always works, beside at most one card provider.
        "PAYMENT_PROVIDERS": payment_providers(os.environ),
        "PLATFORM_FEE_BPS": int(os.environ.get("PLATFORM_FEE_BPS", "300")),
        # How long an unpaid card order holds its stock, and a waitlist offer stays open.
        "RESERVATION_MINUTES": int(os.environ.get("RESERVATION_MINUTES", "30")),
        "WAITLIST_CLAIM_MINUTES": int(os.environ.get("WAITLIST_CLAIM_MINUTES", "60")),
        # Recommendation chains (see farmstore/referrals/services.py for the rules).
        "ATTRIBUTION_DAYS": int(os.environ.get("ATTRIBUTION_DAYS", "30")),
        "CHAIN_MAX_DEPTH": int(os.environ.get("CHAIN_MAX_DEPTH", "10")),
        "SHARE_LINKS_PER_DAY": int(os.environ.get("SHARE_LINKS_PER_DAY", "40")),
        "REWARD_SPLIT_DECAY_PERCENT": int(os.environ.get("REWARD_SPLIT_DECAY_PERCENT", "50")),
        "REWARD_MAX_BPS": int(os.environ.get("REWARD_MAX_BPS", "2000")),
        # Rewards for purchases at a market are that market's gift certificates, valid this many days.
        "GIFT_CERTIFICATE_DAYS": int(os.environ.get("GIFT_CERTIFICATE_DAYS", "90")),
        # How long a group-buy pledge whose card was declined keeps its units while the buyer pays.
        "GROUP_BUY_GRACE_HOURS": int(os.environ.get("GROUP_BUY_GRACE_HOURS", "48")),
        # Market deals: coupons are valid at most this many days after the deal's day, and what
        # happens to the money of a coupon nobody redeemed: "stall" (paid to the stall) or
        # "refund" (given back to the buyer as store credit).
        "DEAL_MAX_REDEEM_DAYS": int(os.environ.get("DEAL_MAX_REDEEM_DAYS", "14")),
        "DEAL_UNREDEEMED_POLICY": os.environ.get("DEAL_UNREDEEMED_POLICY", "stall"),
        # Pledges settled per committed batch when a group-buy's deadline passes.
        "GROUP_BUY_SETTLEMENT_BATCH": int(os.environ.get("GROUP_BUY_SETTLEMENT_BATCH", "200")),
        # How long an evangelist's invitation for a new producer stays usable.
        "INVITATION_VALID_DAYS": int(os.environ.get("INVITATION_VALID_DAYS", "14")),
        # Locale, time and money.
        "BABEL_DEFAULT_LOCALE": os.environ.get("DEFAULT_LOCALE", "ko"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("TIME_ZONE", "Asia/Seoul"),
        "LANGUAGES": ["ko", "en"],
        "CURRENCY": os.environ.get("CURRENCY", "KRW"),
        # Uploads: the request cap is above the per-photo cap so the form can say which file.
        "MEDIA_ROOT": os.environ.get("MEDIA_ROOT") or str(instance_path / "media"),
        # "s3": photos in an S3-compatible bucket instead of MEDIA_ROOT (served through /media/...).
        "MEDIA_BACKEND": os.environ.get("MEDIA_BACKEND", "local").lower(),
        "S3_BUCKET": os.environ.get("S3_BUCKET") or None,
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL") or None,
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID") or None,
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
        "S3_REGION": os.environ.get("S3_REGION") or None,
        "S3_PREFIX": os.environ.get("S3_PREFIX", ""),
        "MAX_PHOTO_BYTES": int(os.environ.get("MAX_PHOTO_BYTES", str(8 * 1024 * 1024))),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", str(32 * 1024 * 1024))),
        "PASSWORD_RESET_MAX_AGE": int(os.environ.get("PASSWORD_RESET_MAX_AGE", "3600")),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "5 per minute;20 per hour"),
        "TICK_INTERVAL_SECONDS": int(os.environ.get("TICK_INTERVAL_SECONDS", "60")),
        # Background work on Celery: the broker defaults to REDIS_URL; with neither set (development)
        # nothing is enqueued and `flask farm tick` does the due work. Results are kept only if asked.
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL") or redis_url,
        "CELERY_RESULT_BACKEND": os.environ.get("CELERY_RESULT_BACKEND") or None,
        # Emails about a new story written per committed batch of the producer's followers.
        # "json" logs one JSON object per line with the request id (X-Request-ID); else plain text.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text").lower(),
        "FOLLOWER_FANOUT_BATCH": int(os.environ.get("FOLLOWER_FANOUT_BATCH", "500")),
        # Tokens live as long as the session: a producer may take an hour to write on a phone.
        "WTF_CSRF_TIME_LIMIT": None,
    }
