"""WSGI entry point: `flask --app app run`, `gunicorn app:app`."""

from farmstore import create_app

app = create_app()
