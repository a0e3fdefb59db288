"""Mail transports: SMTP in production and tests, .eml files under instance/ in development."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from farmstore.notifications.models import OutboxMessage


def build_email(message: OutboxMessage, sender: str) -> EmailMessage:
    """The MIME message for an outbox row (plain text, with an HTML part when there is one)."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(message.created_at)
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    return email


def send_email(email: EmailMessage, config) -> None:
    """Hand one message to the configured transport; raises on failure."""
    if config["MAIL_BACKEND"] == "file":
        folder = Path(config["MAIL_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        name = email["Message-ID"].strip("<>").replace("@", "_") + ".eml"
        (folder / name).write_bytes(bytes(email))
        return
    security = config["SMTP_SECURITY"]
    host, port, timeout = config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_TIMEOUT"]
    if security == "ssl":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if config["SMTP_USERNAME"]:
            client.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"] or "")
        client.send_message(email)
    finally:
        _hang_up(client)


def _hang_up(client: smtplib.SMTP) -> None:
    """Close the connection. A failed QUIT is not an error: once the server has accepted the
    message, raising here would make the outbox send it again."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
