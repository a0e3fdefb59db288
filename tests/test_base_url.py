"""`PORT=5101 make run` writes links on port 5101: BASE_URL follows PORT unless it is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from farmstore.config import load_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_address_settings(monkeypatch, tmp_path):
    for name in ("BASE_URL", "PORT", "FARMSTORE_ENV"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env from the developer's folder


def test_links_follow_the_port(monkeypatch, tmp_path):
    monkeypatch.setenv("PORT", "5101")
    assert load_settings(tmp_path)["BASE_URL"] == "http://127.0.0.1:5101"


def test_the_default_port_is_5000(tmp_path):
    assert load_settings(tmp_path)["BASE_URL"] == "http://127.0.0.1:5000"


def test_a_set_base_url_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("PORT", "5101")
    monkeypatch.setenv("BASE_URL", "https://farmstore.example.com")
    assert load_settings(tmp_path)["BASE_URL"] == "https://farmstore.example.com"


def test_make_run_hands_its_port_to_every_command():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nexport PORT\n" in makefile
    assert "--port $(PORT)" in makefile


def test_a_share_link_uses_the_port(monkeypatch):
    """End to end: an app started with PORT=5101 writes absolute links on that port."""
    from farmstore import create_app
    from farmstore.urls import external_url

    monkeypatch.setenv("PORT", "5101")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.test_request_context("/", base_url="http://localhost:9999"):
        assert external_url("main.home") == "http://127.0.0.1:5101/"
