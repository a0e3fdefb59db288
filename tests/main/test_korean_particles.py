"""Korean particles follow the final consonant of the word before them, in code, templates and
catalogues (햇살마을을, 배추는, 서울로, 부산으로)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import render_template_string
from flask_babel import force_locale, gettext

from farmstore.korean import josa, particle, resolve_particles

KO_CATALOGUE = Path(__file__).resolve().parents[2] / "farmstore/translations/ko/LC_MESSAGES/messages.po"


@pytest.mark.parametrize(
    ("word", "form", "expected"),
    [
        ("햇살마을", "을", "햇살마을을"),
        ("배추", "을", "배추를"),
        ("배추", "은", "배추는"),
        ("햇살마을", "는", "햇살마을은"),
        ("서울", "(으)로", "서울로"),  # ㄹ takes 로
        ("부산", "(으)로", "부산으로"),
        ("제주", "으로", "제주로"),
        ("한우", "이(가)", "한우가"),
        ("감귤농장", "와(과)", "감귤농장과"),
        ("사과", "과", "사과와"),
        ("12,000원", "을(를)", "12,000원을"),
        ("3", "이", "3이"),  # 삼
        ("2", "이", "2가"),  # 이
        ("1,000", "를", "1,000을"),  # 천
        ("7", "로", "7로"),  # 칠: ㄹ
        ("A3F9", "가", "A3F9가"),  # 구
        ("LG", "와", "LG와"),  # 지
        ("GS25", "는", "GS25는"),  # 오
        ("Farm", "을", "Farm을"),  # 엠
        ("쌀 (10kg)", "을", "쌀 (10kg)를"),  # the unit letter: 지
    ],
)
def test_the_particle_fits_the_final_sound(word, form, expected):
    assert josa(word, form) == expected


def test_an_unreadable_ending_keeps_the_paired_form():
    assert particle("漢", "을") == "을(를)"
    assert particle("漢", "(으)로") == "(으)로"
    with pytest.raises(ValueError):
        particle("배추", "의가")


def test_paired_forms_are_resolved_in_a_sentence():
    text = resolve_particles("햇살마을을(를) 맡고 배추은(는) 서울(으)로, 한우는(은) 부산(으)로")
    assert text == "햇살마을을 맡고 배추는 서울로, 한우는 부산으로"


def test_gettext_resolves_paired_particles_after_interpolation(ctx):
    with force_locale("ko"):
        village = gettext(
            "%(name)s looks after %(village)s since %(when)s.", name="지연", village="햇살마을", when="3월 1일"
        )
        pay = gettext("Bring %(amount)s in cash or pay by bank transfer at pickup.", amount="12,000원")
    assert "햇살마을을" in village and "(" not in village
    assert "12,000원을" in pay and "(" not in pay


def test_templates_resolve_particles_and_have_a_josa_filter(ctx):
    with force_locale("ko"):
        text = render_template_string(
            "{{ _('%(name)s looks after %(village)s since %(when)s.', name=n, village=v, when='3월 1일') }}"
            " / {{ crop | josa('은') }} {{ city | josa('(으)로') }} {{ '<b>' | josa('을') }}",
            n="지연",
            v="배추마을",
            crop="배추",
            city="부산",
        )
    assert "배추마을을" in text
    assert "배추는 부산으로" in text
    assert "&lt;b&gt;를" in text  # still escaped


def test_no_korean_placeholder_is_followed_by_a_bare_particle():
    """A placeholder's value is unknown to the translator: the particle after it must be written
    in its paired form (`%(name)s을(를)`), which gettext resolves."""
    bare = re.compile(r"%\(\w+\)[sd](?:을|를|은|는|이|가|와|과|으로|로)(?![(가-힣])")
    with open(KO_CATALOGUE, "rb") as fh:
        catalogue = read_po(fh)
    offenders = []
    for message in catalogue:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        offenders += [s for s in strings if s and bare.search(s)]
    assert offenders == []
