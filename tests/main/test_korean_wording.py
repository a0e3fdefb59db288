"""One word for each thing in the Korean catalogue: 전도사 for evangelist, 팜스토어 for the brand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

KO_CATALOGUE = Path(__file__).resolve().parents[2] / "farmstore/translations/ko/LC_MESSAGES/messages.po"


def _entries() -> list[tuple[str, str]]:
    """(msgid, msgstr) of every entry, plural forms joined."""
    with open(KO_CATALOGUE, "rb") as fh:
        catalogue = read_po(fh)
    pairs = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs.append((" ".join(ids), " ".join(strings)))
    return pairs


@pytest.fixture(scope="module")
def entries() -> list[tuple[str, str]]:
    return _entries()


def test_evangelist_is_always_jeondosa(entries):
    other_words = re.compile(r"에반젤|에반겔|전도자|전파자|앰배서더")
    assert [s for _id, s in entries if other_words.search(s)] == []
    missing = [s for msgid, s in entries if re.search(r"evangelist", msgid, re.I) and "전도사" not in s]
    assert missing == []


def test_the_brand_has_one_korean_form(entries):
    assert [s for _id, s in entries if re.search(r"farm\s*store|팜 스토어|파머스토어|팜스토아", s, re.I)] == []
    assert [s for msgid, s in entries if "farmstore" in msgid.lower() and "팜스토어" not in s] == []
