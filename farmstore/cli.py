"""`flask farm ...` commands."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup

from farmstore.errors import DomainError
from farmstore.timeutil import utcnow


@click.group("farm", cls=AppGroup)
def farm() -> None:
    """farmstore administration."""


@farm.command("tick")
@click.option("--every", type=int, default=0, help="Repeat every N seconds until stopped.")
def tick(every: int) -> None:
    """Run due work once (send queued mail, ...), or forever with --every."""
    from farmstore.extensions import db
    from farmstore.tick import run_tick

    while True:
        try:
            report = run_tick(now=utcnow())
            click.echo(f"{utcnow():%Y-%m-%d %H:%M:%S} tick {report}")
        except Exception as exc:  # keep the background loop alive; the next tick retries
            db.session.rollback()
            if not every:
                raise
            current_app.logger.exception("tick failed: %s", exc)
        finally:
            db.session.remove()
        if not every:
            return
        time.sleep(every)


@farm.command("make-operator")
@click.argument("email")
def make_operator(email: str) -> None:
    """Give the account with EMAIL operator rights."""
    from farmstore.accounts.services import make_operator as make

    try:
        user = make(email)
    except DomainError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"{user.email} is now an operator.")


@farm.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has accounts.")
def seed_demo(if_empty: bool) -> None:
    """Load the demo village, producers and buyers (idempotent)."""
    from farmstore.demo import database_is_empty, seed

    if if_empty and not database_is_empty():
        click.echo("The database has data; demo not loaded.")
        return
    summary = seed(now=utcnow())
    click.echo(f"Demo data ready: {summary}")


def init_app(app) -> None:
    app.cli.add_command(farm)
