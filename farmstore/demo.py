"""Demo data for `flask farm seed-demo`: a Gangwon village, three producers, buyers, an operator.

Photos are painted here with Pillow (no downloads) and go through the same upload pipeline as a
real producer's photo. Running it twice changes nothing.
"""

from __future__ import annotations

import io
import math
import random
from datetime import datetime

from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import func, select

from farmstore.accounts.models import User
from farmstore.accounts.services import find_user_by_email, register_user
from farmstore.extensions import db
from farmstore.producers.services import create_producer
from farmstore.villages.models import Village
from farmstore.villages.services import create_village

DEMO_PASSWORD = "harvest-moon-over-pyeongchang"

OPERATOR = ("operator@farmstore.example", "운영자")
BUYERS = [
    ("jiyeon@farmstore.example", "지연"),
    ("minho@farmstore.example", "민호"),
    ("sora@farmstore.example", "소라"),
    ("daniel@farmstore.example", "Daniel"),
]
VILLAGE = {
    "name": "햇살마을",
    "region": "gangwon",
    "kind": "village",
    "description": (
        "평창 오대산 자락, 해발 600m 골짜기에 자리한 스무 가구 마을입니다. "
        "한우를 키우고, 들꽃을 말려 차를 만들고, 북쪽 밭에서 김장 배추를 기릅니다."
    ),
}
PRODUCERS = [
    {
        "email": "hanwoo@farmstore.example",
        "name": "김영수",
        "farm_name": "느릅골 한우농장",
        "scene": "pasture",
        "contact": "010-1234-5678 · 카카오톡 neureupgol",
        "about": (
            "3대째 한우를 키웁니다. 소 마흔두 마리가 북쪽 비탈 풀밭에서 풀을 뜯습니다.\n\n"
            "- 봄부터 가을까지 **방목**\n- 겨울에는 직접 말린 볏짚과 옥수수\n- 항생제 없이 키웁니다\n\n"
            "송아지가 태어나는 날부터 이야기를 올립니다."
        ),
    },
    {
        "email": "tea@farmstore.example",
        "name": "박순자",
        "farm_name": "들꽃차 할머니",
        "scene": "tea",
        "contact": "033-330-1234 (오전 9시~오후 6시)",
        "about": (
            "마을 뒷산에서 들꽃을 따서 그늘에 말려 차를 만듭니다. 구절초, 산국, 목련꽃차.\n\n"
            "한 송이 한 송이 손으로 덖습니다. 손녀가 사진을 찍어 줍니다."
        ),
    },
    {
        "email": "cabbage@farmstore.example",
        "name": "이정민",
        "farm_name": "북쪽밭 배추",
        "scene": "cabbage",
        "contact": "카카오톡 northfield",
        "about": (
            "마을 북쪽 고랭지 밭 3,000평에서 김장 배추를 기릅니다.\n\n"
            "올해는 밭 하나를 통째로 도시 이웃들과 **공동구매**로 나누려 합니다. "
            "심는 날부터 수확까지 밭 이야기를 전합니다."
        ),
    },
]


def paint(scene: str, seed: int, size: tuple[int, int] = (1200, 800)) -> bytes:
    """A simple painted landscape (JPEG bytes) for a demo photo."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    sky_top, sky_bottom = (120, 180, 235), (220, 235, 250)
    horizon = int(height * 0.45)
    for y in range(horizon):
        t = y / horizon
        draw.line(
            [(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(sky_top, sky_bottom, strict=True))
        )
    draw.ellipse([width * 0.75, 60, width * 0.75 + 110, 170], fill=(255, 220, 120))
    for layer, colour in enumerate([(92, 130, 90), (70, 115, 70), (55, 100, 55)]):
        base = horizon + layer * 40
        points = [(0, height)]
        for x in range(0, width + 40, 40):
            points.append((x, base - 60 * math.sin(x / (180 + layer * 60) + seed + layer) - rng.randint(0, 15)))
        points.append((width, height))
        draw.polygon(points, fill=colour)
    ground = {"pasture": (110, 160, 70), "tea": (150, 170, 90), "cabbage": (120, 90, 60)}[scene]
    draw.rectangle([0, int(height * 0.62), width, height], fill=ground)
    if scene == "pasture":
        for _ in range(4):
            x, y = rng.randint(80, width - 260), rng.randint(int(height * 0.66), height - 160)
            draw.ellipse([x, y, x + 180, y + 90], fill=(140, 85, 45))
            draw.ellipse([x + 150, y - 20, x + 220, y + 40], fill=(120, 70, 35))
            for leg in (20, 55, 115, 150):
                draw.rectangle([x + leg, y + 70, x + leg + 12, y + 130], fill=(100, 60, 30))
    elif scene == "tea":
        for _ in range(60):
            x, y = rng.randint(0, width), rng.randint(int(height * 0.64), height)
            colour = rng.choice([(250, 250, 250), (250, 220, 90), (230, 170, 220), (255, 255, 200)])
            draw.ellipse([x - 9, y - 9, x + 9, y + 9], fill=colour)
        draw.ellipse([width * 0.35, height * 0.7, width * 0.65, height * 0.95], fill=(245, 240, 230))
        draw.ellipse([width * 0.38, height * 0.72, width * 0.62, height * 0.86], fill=(200, 160, 60))
    else:
        for row in range(6):
            y = int(height * 0.66) + row * 45
            for x in range(30, width, 90):
                draw.ellipse([x, y, x + 70, y + 40], fill=(150 + rng.randint(-15, 15), 200, 110))
    image = image.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def database_is_empty() -> bool:
    """True when no account exists yet (a fresh install)."""
    return not db.session.scalar(select(func.count()).select_from(User))


def _user(email: str, name: str, now: datetime) -> User:
    return find_user_by_email(email) or register_user(
        email=email, password=DEMO_PASSWORD, display_name=name, locale="ko", now=now
    )


def seed(*, now: datetime) -> dict[str, int]:
    """Create whatever part of the demo is missing and return counts of what exists."""
    operator = _user(*OPERATOR, now)
    if not operator.is_operator:
        operator.is_operator = True
        db.session.commit()
    for email, name in BUYERS:
        _user(email, name, now)
    village = db.session.scalar(select(Village).where(Village.name == VILLAGE["name"]))
    if village is None:
        village = create_village(by=operator, cover=paint("cabbage", 7), now=now, **VILLAGE)
    for index, spec in enumerate(PRODUCERS):
        user = _user(spec["email"], spec["name"], now)
        if user.producer is None:
            create_producer(
                user=user,
                farm_name=spec["farm_name"],
                village_id=village.id,
                about=spec["about"],
                contact=spec["contact"],
                photo=paint(spec["scene"], index + 1),
                now=now,
            )
    return {
        "users": db.session.scalar(select(func.count()).select_from(User)),
        "villages": db.session.scalar(select(func.count()).select_from(Village)),
    }
