"""Korean particles (조사) chosen by the final consonant (받침) of the word before them.

"햇살마을을", "배추를", "서울로", "부산으로": the particle after a name depends on how the name ends,
which a translator cannot know when the name is a placeholder. Catalogues write the paired form
(`%(name)s을(를)`) and `resolve_particles` picks the right half once the name is in.
"""

from __future__ import annotations

import re

from markupsafe import Markup

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
RIEUL = 8  # index of ㄹ among the final consonants

# Each particle as (after a final consonant, after a vowel); 으로/로 takes 로 after ㄹ too.
PARTICLES = (
    ("을", "를"),
    ("이", "가"),
    ("은", "는"),
    ("과", "와"),
    ("으로", "로"),
    ("이나", "나"),
    ("이랑", "랑"),
    ("이에요", "예요"),
)
# Every way a particle is written: either half, both halves ("을(를)", "를(을)"), "(으)로".
FORMS: dict[str, tuple[str, str]] = {}
for _pair in PARTICLES:
    _consonant, _vowel = _pair
    for _form in (_consonant, _vowel, f"{_consonant}({_vowel})", f"{_vowel}({_consonant})"):
        FORMS[_form] = _pair
    if _consonant.endswith(_vowel):
        FORMS[f"({_consonant[0]}){_vowel}"] = _pair

# How a final digit or Latin letter is read aloud, as (has a final consonant, that consonant is ㄹ).
DIGITS = {
    "0": (True, False),  # 영
    "1": (True, True),  # 일
    "2": (False, False),  # 이
    "3": (True, False),  # 삼
    "4": (False, False),  # 사
    "5": (False, False),  # 오
    "6": (True, False),  # 육
    "7": (True, True),  # 칠
    "8": (True, True),  # 팔
    "9": (False, False),  # 구
}
# Letters whose Korean name ends in a consonant: 엘, 엠, 엔, 알.
LETTERS = {"l": (True, True), "m": (True, False), "n": (True, False), "r": (True, True)}
# Trailing zeros of a number: 십, 백, 천, 만 (then 십만, 백만, 천만, 억 ...), all with a final consonant.
ZERO_UNITS = (True, False)

# A paired form left in a text after interpolation ("배추을(를)"), longest first.
PAIRED = re.compile("|".join(re.escape(f) for f in sorted((f for f in FORMS if "(" in f), key=len, reverse=True)))
SKIPPED = " \t\"'’”)]}>.,·…!?"


def final_sound(word: str) -> tuple[bool, bool] | None:
    """(has a final consonant, it is ㄹ) for how `word` ends when read in Korean, or None when
    the end is neither Hangul, a digit nor a Latin letter (the caller keeps the paired form)."""
    text = str(word).rstrip(SKIPPED)
    if not text:
        return None
    last = text[-1]
    if HANGUL_FIRST <= ord(last) <= HANGUL_LAST:
        final = (ord(last) - HANGUL_FIRST) % 28
        return final != 0, final == RIEUL
    if last.isdigit() and last.isascii():
        digits = re.search(r"[\d,]+$", text).group(0).replace(",", "").lstrip("0")
        if not digits:
            return DIGITS["0"]
        if digits.endswith("0"):
            return ZERO_UNITS
        return DIGITS[digits[-1]]
    if last.isascii() and last.isalpha():
        return LETTERS.get(last.lower(), (False, False))
    return None


def particle(word: str, form: str) -> str:
    """The particle `form` (any half, or a paired form like "을(를)") that fits after `word`."""
    if form not in FORMS:
        raise ValueError(f"unknown Korean particle: {form}")
    after_consonant, after_vowel = FORMS[form]
    sound = final_sound(word)
    if sound is None:
        return form if "(" in form else f"{after_consonant}({after_vowel})"
    has_final, rieul = sound
    if after_vowel == "로" and rieul:
        return after_vowel
    return after_consonant if has_final else after_vowel


def josa(word, form: str):
    """`word` followed by the particle that fits it: josa("햇살마을", "을") == "햇살마을을"."""
    if isinstance(word, Markup):
        return word + particle(word.striptags(), form)
    return f"{word}{particle(word, form)}"


def resolve_particles(text):
    """Replace every paired form in `text` ("배추은(는)") by the half that fits the word before it."""
    if not text or "(" not in text:
        return text

    def choose(match: re.Match) -> str:
        before = text[: match.start()]
        return particle(re.sub(r"<[^>]*>", "", before), match.group(0)) if before else match.group(0)

    resolved = PAIRED.sub(choose, str(text))
    # Only particles changed in text that was already escaped Markup.
    return Markup(resolved) if isinstance(text, Markup) else resolved  # noqa: S704
