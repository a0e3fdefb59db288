"""Demo data for `flask farm seed-demo`: a Gangwon village, three producers, buyers, an operator.

Photos are painted here with Pillow (no downloads) and go through the same upload pipeline as a
real producer's photo. Running it twice changes nothing.
"""

from __future__ import annotations

import io
import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import func, select

from farmstore.accounts.models import User
from farmstore.accounts.services import find_user_by_email, register_user, save_phone
from farmstore.catalog.models import Product
from farmstore.catalog.services import create_product
from farmstore.evangelists.demo import seed_evangelists
from farmstore.extensions import db
from farmstore.groupbuys.models import GroupBuy, Pledge
from farmstore.groupbuys.services import (
    create_group_buy,
    grace_period,
    join_waitlist,
    open_group_buy,
    pledge,
    settle_due_group_buys,
    settle_final_weight,
)
from farmstore.payments.models import Payment
from farmstore.payments.services import refund
from farmstore.producers.services import create_producer
from farmstore.referrals import services as referrals
from farmstore.referrals.models import CreditCertificate, Referral, ShareLink
from farmstore.regulars.services import follow
from farmstore.sales.models import Order, PickupPoint, Sale
from farmstore.sales.services import (
    ItemSpec,
    check_in,
    create_pickup_point,
    create_sale,
    mark_no_shows,
    payment_of,
    place_order,
    request_area,
)
from farmstore.stories.models import StoryPost, Subject
from farmstore.stories.services import add_claim, create_subject, subjects_of, today, write_post
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
# Their mobile numbers (asked at the first checkout): 지연, 민호 and 소라 gave one, Daniel not yet.
DEMO_PHONES = ["010-2345-6789", "010-3456-7890", "010-4567-8901", None]
VILLAGE = {
    "name": "햇살마을",
    "region": "gangwon",
    "kind": "village",
    "description": (
        "평창 오대산 자락, 해발 600m 골짜기에 자리한 스무 가구 마을입니다. "
        "한우를 키우고, 들꽃을 말려 차를 만들고, 북쪽 밭에서 김장 배추를 기릅니다."
    ),
}
# A season of stories per subject: (days ago, title, body, photos).
HANWOO_STORIES = [
    (
        96,
        "봄 풀밭으로",
        "겨우내 외양간에 있던 누렁이가 드디어 북쪽 비탈 풀밭으로 나갔습니다. 첫날은 한참을 뛰어다녔어요.",
        2,
    ),
    (83, "아침 풀 뜯기", "이슬 맺힌 풀을 제일 좋아합니다. 해 뜨기 전에 나가 두 시간쯤 풀을 뜯어요.", 1),
    (70, "예방접종 날", "수의사 선생님이 오셔서 구제역 예방접종을 했습니다. 누렁이는 얌전했어요.", 1),
    (56, "한여름 그늘", "낮 기온이 32도. 느릅나무 그늘 아래에서 되새김질을 하며 더위를 피합니다.", 1),
    (42, "체중 재는 날", "오늘 누렁이 체중은 **482kg**. 봄보다 38kg 늘었습니다.", 1),
    (28, "볏짚 말리기", "겨울에 먹일 볏짚을 논에서 직접 말리고 있습니다. 농약 치지 않은 논의 볏짚입니다.", 2),
    (14, "첫 서리", "오늘 아침 첫 서리가 내렸습니다. 풀밭 시간이 짧아지고 외양간 시간이 길어집니다.", 1),
    (3, "겨울 준비", "외양간 바닥에 왕겨를 새로 깔았습니다. 누렁이가 제일 먼저 드러누웠어요.", 1),
]
TEA_STORIES = [
    (90, "구절초 싹", "뒷산 구절초 밭에 새싹이 올라왔습니다. 올해는 비가 넉넉해서 잘 자랄 것 같아요.", 1),
    (75, "풀 매기", "손녀와 함께 하루 종일 풀을 맸습니다. 약은 치지 않으니 손으로 합니다.", 1),
    (60, "꽃봉오리", "구절초 꽃봉오리가 맺혔습니다. 9월 말이면 하얗게 필 거예요.", 1),
    (40, "첫 꽃", "밭이 하얗게 변했습니다. 벌이 제일 먼저 알고 찾아왔어요.", 2),
    (30, "꽃 따기", "이슬이 마른 오전에만 땁니다. 한 바구니에 세 시간이 걸립니다.", 1),
    (21, "그늘에 말리기", "딴 꽃은 그늘에서 사흘을 말립니다. 햇볕에 말리면 향이 날아가요.", 1),
    (10, "덖기", "가마솥에 아홉 번 덖고 아홉 번 식힙니다. 할머니 손이 제일 바쁜 날입니다.", 1),
]
CABBAGE_STORIES = [
    (92, "모종 심기", "고랭지 북쪽 밭에 배추 모종 6,000포기를 심었습니다. 마을 분들이 함께 해 주셨어요.", 2),
    (80, "첫 비", "심고 나서 딱 좋은 때에 비가 왔습니다. 모종이 자리를 잘 잡았어요.", 1),
    (66, "벌레와의 씨름", "약 대신 한랭사를 덮어 배추흰나비를 막고 있습니다. 손이 많이 가지만 이게 맞습니다.", 1),
    (50, "결구 시작", "배추 속이 차기 시작했습니다. 이제부터 물 관리가 제일 중요해요.", 1),
    (35, "밭 한가운데에서", "바람이 선선해지니 배추가 하루가 다르게 큽니다.", 2),
    (20, "묶어 주기", "서리 오기 전에 배추를 하나하나 묶어 줬습니다. 속이 얼지 않게요.", 1),
    (6, "수확 준비", "다음 주면 수확합니다. 공동구매하신 분들께 곧 연락드릴게요.", 1),
]

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
        "subjects": [
            {
                "kind": "animal",
                "name": "누렁이",
                "born_days_ago": 980,
                "breed": "한우 (암소)",
                "location": "북쪽 비탈 풀밭",
                "scene": "pasture",
                "stories": HANWOO_STORIES,
                "description": "2024년 봄에 태어난 암소입니다. 풀을 제일 좋아하고 사람을 잘 따릅니다.",
                "claims": [("풀 먹여 키움", True), ("무항생제", True)],
                # A made-up number in the real format (12 digits), linked to the public lookup.
                "trace_number": "002089461327",
            },
            {
                "kind": "herd",
                "name": "느릅골 한우 무리",
                "born_days_ago": None,
                "breed": "한우",
                "location": "느릅골 외양간과 풀밭",
                "scene": "pasture",
                "stories": HANWOO_STORIES[::3],
                "description": "마흔두 마리 한우 무리입니다.",
                "claims": [("방목", False)],
            },
        ],
        "products": [
            {
                "name": "한우 정육 선물세트",
                "unit": "2kg 1상자",
                "category": "meat",
                "subjects": ["누렁이", "느릅골 한우 무리"],
                "description": "등심, 안심, 채끝을 500g씩 나눠 담았습니다. 진공 포장, 냉장 배송.",
                # Cut from two animals of the herd, so it carries a lot number (묶음번호) packed two days ago.
                "label": {
                    "weight_grams": 2000,
                    "origin": "국내산 한우 (강원 평창)",
                    "grade": "1++ 9",
                    "lot": True,
                    "packed_days_ago": 2,
                    "use_by_days": 10,
                    "storage": "냉장 0~4℃ 보관, 받은 날부터 5일 안에 드세요",
                },
            },
            {
                "name": "한우 1/16 지분",
                "unit": "1/16 지분 (약 18kg)",
                "category": "meat",
                "subjects": ["느릅골 한우 무리"],
                "description": "한 마리를 열여섯 집이 나눕니다. 부위가 고루 섞여 갑니다.",
                "label": {
                    "weight_grams": 18000,
                    "origin": "국내산 한우 (강원 평창)",
                    "grade": "1+",
                    "storage": "냉장 0~4℃ 보관",
                },
            },
        ],
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
        "subjects": [
            {
                "kind": "field",
                "name": "뒷산 구절초 밭",
                "born_days_ago": 1400,
                "breed": "구절초",
                "location": "마을 뒷산 남쪽 비탈",
                "scene": "tea",
                "stories": TEA_STORIES,
                "description": "할머니가 십 년째 가꾸는 구절초 밭입니다.",
                "claims": [("무농약", True)],
            },
        ],
        "products": [
            {
                "name": "구절초차",
                "unit": "30g 1통",
                "category": "tea",
                "subjects": ["뒷산 구절초 밭"],
                "description": "가마솥에 아홉 번 덖은 구절초 꽃차. 한 송이에 뜨거운 물 한 잔.",
                "label": {
                    "weight_grams": 30,
                    "origin": "국내산 (강원 평창)",
                    "ingredients": "구절초꽃 100% (국내산)",
                    "storage": "직사광선을 피해 서늘하고 건조한 곳",
                },
            },
        ],
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
        "subjects": [
            {
                "kind": "field",
                "name": "북쪽 밭",
                "born_days_ago": 95,
                "breed": "배추 (불암3호)",
                "location": "마을 북쪽 고랭지, 해발 650m",
                "scene": "cabbage",
                "stories": CABBAGE_STORIES,
                "description": "3,000평 고랭지 배추밭입니다. 올해는 밭 하나를 통째로 이웃들과 나눕니다.",
                "claims": [("무농약", True), ("고랭지 재배", False)],
            },
        ],
        "products": [
            {
                "name": "김장 배추",
                "unit": "3포기 1망",
                "category": "vegetables",
                "subjects": ["북쪽 밭"],
                "description": "속이 꽉 찬 고랭지 배추 세 포기.",
                "label": {"weight_grams": 9000, "origin": "국내산 (강원 평창)", "storage": "서늘한 곳, 신문지에 싸서"},
            },
            {
                "name": "배추김치",
                "unit": "5kg",
                "category": "preserves",
                "subjects": ["북쪽 밭"],
                "description": "북쪽 밭 배추로 마을 어머니들이 담근 김치.",
                "label": {
                    "weight_grams": 5000,
                    "origin": "배추 국내산, 고춧가루 국내산",
                    "ingredients": "배추(국내산), 무(국내산), 고춧가루(국내산), 마늘, 생강, 멸치액젓, 새우젓, 천일염",
                    "storage": "냉장 0~10℃ 보관",
                },
            },
        ],
    },
]


def paint(scene: str, seed: int, size: tuple[int, int] = (960, 640)) -> bytes:
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
    if scene == "paper":
        return _paper(seed)
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


def _paper(seed: int) -> bytes:
    """A certificate-looking sheet: a border, lines of "text" and a red seal."""
    image = Image.new("RGB", (800, 1100), (252, 250, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle([40, 40, 760, 1060], outline=(120, 100, 60), width=8)
    for row in range(14):
        y = 220 + row * 48
        draw.rectangle([110, y, 110 + 560 - (row * 37 + seed * 13) % 240, y + 14], fill=(90, 90, 90))
    draw.ellipse([540, 860, 700, 1020], outline=(200, 40, 40), width=10)
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
    for (email, name), phone in zip(BUYERS, DEMO_PHONES, strict=False):
        buyer = _user(email, name, now)
        if phone and not buyer.phone:
            save_phone(buyer, phone=phone)  # shown to the producers on their rosters
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
        producer = user.producer
        if not subjects_of(producer):
            _seed_stories(producer, spec, index, now)
    _seed_follows(now)
    if not db.session.scalar(select(func.count()).select_from(Sale)):
        _seed_sales(now)
    if not db.session.scalar(select(func.count()).select_from(GroupBuy)):
        _seed_group_buys(now)
    if not db.session.scalar(select(func.count()).select_from(ShareLink)):
        _seed_referrals(now)
    seed_evangelists(village=village, operator=operator, now=now)
    from farmstore.deals.demo import seed_deals

    seed_deals(now=now)
    _seed_gift_certificates(now)
    from farmstore.evangelists.drafts import Draft
    from farmstore.inquiries.models import Question

    if not db.session.scalar(select(func.count()).select_from(Question)):
        _seed_questions(now)
    if not db.session.scalar(select(func.count()).select_from(Draft)):
        _seed_written_together(now)
    return {
        "users": db.session.scalar(select(func.count()).select_from(User)),
        "villages": db.session.scalar(select(func.count()).select_from(Village)),
        "subjects": db.session.scalar(select(func.count()).select_from(Subject)),
        "stories": db.session.scalar(select(func.count()).select_from(StoryPost)),
        "products": db.session.scalar(select(func.count()).select_from(Product)),
        "sales": db.session.scalar(select(func.count()).select_from(Sale)),
        "orders": db.session.scalar(select(func.count()).select_from(Order)),
        "group_buys": db.session.scalar(select(func.count()).select_from(GroupBuy)),
        "pledges": db.session.scalar(select(func.count()).select_from(Pledge)),
        "share_links": db.session.scalar(select(func.count()).select_from(ShareLink)),
        "recorded_chains": db.session.scalar(select(func.count()).select_from(Referral)),
    }


def _seed_stories(producer, spec: dict, index: int, now: datetime) -> None:
    """A producer's subjects with a season of dated stories, claims and products."""
    owner = producer.user
    by_name = {}
    for n, item in enumerate(spec["subjects"]):
        seed_base = (index + 1) * 100 + n * 20
        born = today(now) - timedelta(days=item["born_days_ago"]) if item["born_days_ago"] else None
        subject = create_subject(
            producer=producer, by=owner, kind=item["kind"], name=item["name"], started_on=born,
            breed=item["breed"], location=item["location"], description=item["description"],
            trace_number=item.get("trace_number", ""), cover=paint(item["scene"], seed_base), now=now,
        )  # fmt: skip
        for claim_number, (text, with_certificate) in enumerate(item["claims"]):
            certificate = _paper(seed_base + claim_number) if with_certificate else None
            add_claim(subject, by=owner, text=text, certificate=certificate)
        for days_ago, title, body, photo_count in item["stories"]:
            photos = [paint(item["scene"], seed_base + days_ago + k) for k in range(photo_count)]
            write_post(
                subject, by=owner, happened_on=today(now) - timedelta(days=days_ago), title=title, body=body,
                photos=photos, now=now - timedelta(days=days_ago),
            )  # fmt: skip
        by_name[item["name"]] = subject
    for n, item in enumerate(spec["products"]):
        subject_ids = [by_name[name].id for name in item["subjects"]]
        scene = spec["subjects"][0]["scene"]
        create_product(
            producer=producer, by=owner, name=item["name"], unit=item["unit"], category=item["category"],
            description=item["description"], subject_ids=subject_ids, photos=[paint(scene, 900 + index * 10 + n)],
            label=_label(item.get("label", {}), now), now=now,
        )  # fmt: skip


def _label(spec: dict, now: datetime) -> dict:
    """A demo product's label facts; dates (and the date inside a lot number) relative to today."""
    spec = dict(spec)
    packed_on = today(now) - timedelta(days=spec.pop("packed_days_ago")) if "packed_days_ago" in spec else None
    if packed_on:
        spec["packed_on"] = packed_on
        spec["use_by"] = packed_on + timedelta(days=spec.pop("use_by_days"))
    if spec.pop("lot", False):
        spec["trace_number"] = f"L0{packed_on:%y%m%d}3105007"  # beef, packing date, business code, serial
    return spec


def _producer(spec: dict):
    return find_user_by_email(spec["email"]).producer


def _product(producer, name: str) -> Product:
    return db.session.scalar(select(Product).where(Product.producer_id == producer.id, Product.name == name))


def _daytime(moment: datetime, hour: int = 10) -> datetime:
    """`hour` o'clock in Seoul on the day `moment` falls in there: demo pickups happen in daylight
    (10:00 to 12:00 or 13:00) whatever time seed-demo runs."""
    seoul = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    local = moment.astimezone(seoul).replace(hour=hour, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def _seed_sales(now: datetime) -> None:
    """Three sales in three states, a roster with picked-up and no-show orders, a refund, and
    buyers asking for sales in their districts."""
    hanwoo, tea, cabbage = (_producer(spec) for spec in PRODUCERS)
    buyers = [find_user_by_email(email) for email, _name in BUYERS]
    day = timedelta(days=1)
    mangwon = create_pickup_point(
        producer=cabbage, by=cabbage.user, name="망원시장 동문", address="서울 마포구 포은로 8길 14", area="마포구",
        latitude="37.556180", longitude="126.906240", directions="동문 앞 파란 트럭을 찾아 주세요.", now=now,
    )  # fmt: skip
    seongsu = create_pickup_point(
        producer=hanwoo, by=hanwoo.user, name="성수동 공유주방", address="서울 성동구 성수이로 78", area="성동구",
        directions="1층 냉장 보관함 앞", now=now,
    )  # fmt: skip
    teahouse = create_pickup_point(
        producer=tea, by=tea.user, name="서촌 찻집 마당", address="서울 종로구 자하문로 7길 22", area="종로구", now=now
    )
    # Open now: kimchi and cabbages at Mangwon market, pickup on the weekend.
    open_sale = create_sale(
        producer=cabbage, by=cabbage.user, title="토요일 망원시장 김장 배추", pickup_point_id=mangwon.id,
        description="북쪽 밭에서 어제 뽑은 배추와 마을 김치입니다. **한 분당 두 망까지.**",
        opens_at=now - day, closes_at=now + 2 * day, pickup_starts_at=_daytime(now + 3 * day),
        pickup_ends_at=_daytime(now + 3 * day, hour=12),
        items=[
            ItemSpec(_product(cabbage, "김장 배추").id, 18000, 40, 2),
            ItemSpec(_product(cabbage, "배추김치").id, 35000, 12, 1),
        ],
        now=now - day,
    )  # fmt: skip
    for n, buyer in enumerate(buyers[:3]):
        place_order(
            sale=open_sale, buyer=buyer, quantities={open_sale.items[0].id: 1 + n % 2}, checkout_key=f"demo-open-{n}",
            now=now - timedelta(hours=20 - n),
        )  # fmt: skip
    # Upcoming: hanwoo boxes in Seongsu next week.
    create_sale(
        producer=hanwoo, by=hanwoo.user, title="성수동 한우 정육 선물세트", pickup_point_id=seongsu.id,
        opens_at=now + 2 * day, closes_at=now + 5 * day, pickup_starts_at=_daytime(now + 6 * day),
        pickup_ends_at=_daytime(now + 6 * day, hour=13),
        items=[ItemSpec(_product(hanwoo, "한우 정육 선물세트").id, 89000, 15, 1)], now=now,
    )  # fmt: skip
    # Closed last week: wildflower tea in Seochon, with a roster of picked-up and no-show orders.
    started = now - 12 * day
    past = create_sale(
        producer=tea, by=tea.user, title="서촌 찻집 구절초차 나눔", pickup_point_id=teahouse.id,
        opens_at=started, closes_at=started + 3 * day, pickup_starts_at=_daytime(started + 4 * day),
        pickup_ends_at=_daytime(started + 4 * day, hour=12),
        items=[ItemSpec(_product(tea, "구절초차").id, 15000, 20, 3)], now=started,
    )  # fmt: skip
    orders = [
        place_order(
            sale=past,
            buyer=buyer,
            quantities={past.items[0].id: 1 + n % 3},
            checkout_key=f"demo-past-{n}",
            now=started + timedelta(hours=5 * (n + 1)),
        )
        for n, buyer in enumerate(buyers)
    ]
    pickup_time = past.pickup_starts_at + timedelta(minutes=30)
    for order in orders[:3]:
        check_in(sale=past, code=order.pickup_code, by=tea.user, now=pickup_time)
    refund(
        payment_of(orders[0]),
        amount=5000,
        reason="한 통이 눌려서 왔습니다",
        by=tea.user,
        now=pickup_time + timedelta(hours=1),
    )
    mark_no_shows(now=now)
    # Buyers asking for sales in their districts.
    for buyer, area in zip(buyers, ["송파구", "송파구", "마포구", "분당구"], strict=True):
        request_area(producer=hanwoo, buyer=buyer, area=area, now=now)
    request_area(producer=cabbage, buyer=buyers[3], area="송파구", now=now)


NEIGHBOURS = ["하늘", "바다", "도윤", "서연", "하준", "지우", "민준", "수아", "Emma", "Lucas", "은우", "Noah"]


def _seed_group_buys(now: datetime) -> None:
    """Three group-buys: one open and about half full, one that succeeded (settled: pickup
    pledges due, one pledge whose card was declined in its grace period, a neighbour on the
    waitlist), one that failed (everyone released). Neighbours join the demo buyers."""
    hanwoo, tea, cabbage = (_producer(spec) for spec in PRODUCERS)
    people = [find_user_by_email(email) for email, _name in BUYERS] + [
        _user(f"neighbour{n}@farmstore.example", name, now) for n, name in enumerate(NEIGHBOURS, 1)
    ]
    day = timedelta(days=1)
    mangwon = db.session.scalar(select(PickupPoint).where(PickupPoint.producer_id == cabbage.id))
    seongsu = db.session.scalar(select(PickupPoint).where(PickupPoint.producer_id == hanwoo.id))
    field = db.session.scalar(select(Subject).where(Subject.producer_id == cabbage.id))
    cow = db.session.scalar(select(Subject).where(Subject.producer_id == hanwoo.id, Subject.name == "누렁이"))
    flowers = db.session.scalar(select(Subject).where(Subject.producer_id == tea.id))
    started = now - 20 * day
    plans = [
        # (producer, subject, title, unit, price, total, min, max, deadline, point, pledges per person)
        (cabbage, field, "북쪽 밭 김장 배추 함께 사기", "배추 3포기 한 상자", 18000, 60, 40, 6, now + 9 * day, mangwon,
         [3, 4, 2, 5, 3, 2, 4, 3, 2, 1]),
        (hanwoo, cow, "누렁이 한 마리, 열여섯 가구가 나눠요", "1/16 지분 (약 18kg)", 420000, 16, 12, 2, now - 2 * day,
         seongsu, [2, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 1]),
        (tea, flowers, "구절초 밭 한 해 나눔", "구절초차 30g 두 통", 28000, 30, 20, 3, now - 1 * day, None,
         [1, 2, 1, 2, 1]),
    ]  # fmt: skip
    for producer, subject, title, unit, price, total, minimum, most, deadline, point, pledges in plans:
        group_buy = create_group_buy(
            producer=producer, by=producer.user, subject_id=subject.id, title=title, unit_label=unit,
            unit_price=price, total_units=total, min_units=minimum, per_buyer_max=most, deadline=deadline,
            story=f"{subject.name}의 이야기를 끝까지 함께 지켜봐 주세요.", pickup_point_id=point.id if point else None,
            pickup_starts_at=_daytime(deadline + 5 * day) if point else None,
            pickup_ends_at=_daytime(deadline + 5 * day, hour=13) if point else None,
            delivery_note="" if point else "택배로 보내 드립니다 (배송비 포함).", now=started,
            **(HANWOO_BY_WEIGHT if subject is cow else {}),
        )  # fmt: skip
        open_group_buy(group_buy, by=producer.user, now=started)
        for n, (person, units) in enumerate(zip(people, pledges, strict=False)):
            pledge(
                group_buy=group_buy, buyer=person, units=units, show_name=n % 2 == 0,
                now=started + timedelta(hours=6 * (n + 1)),
            )  # fmt: skip
        if group_buy.units_left == 0:  # the cow is fully shared: the last neighbour waits for a share
            join_waitlist(group_buy=group_buy, buyer=people[-1], units=1, now=started + 4 * day)
    settle_due_group_buys(now=now)
    _declined_card(db.session.scalar(select(GroupBuy).where(GroupBuy.subject_id == cow.id)), now)
    _weigh_shares(db.session.scalar(select(GroupBuy).where(GroupBuy.subject_id == cow.id)), now)


# The cow is sold by weight: a share assumes 18 kg, and the difference is settled at 23,000 won a kg.
HANWOO_BY_WEIGHT = {"price_per_kg": 23_000, "grams_per_unit": 18_000}


def _weigh_shares(group_buy: GroupBuy, now: datetime) -> None:
    """The butcher has weighed two shares: 지연's 2 shares came out 0.8 kg lighter (she pays less at
    pickup), 민호's share 0.9 kg heavier (he pays the difference at pickup)."""
    for email, off_by in ((BUYERS[0][0], -800), (BUYERS[1][0], 900)):
        record = db.session.scalar(
            select(Pledge).where(Pledge.group_buy_id == group_buy.id, Pledge.buyer_id == find_user_by_email(email).id)
        )
        grams = record.units * HANWOO_BY_WEIGHT["grams_per_unit"] + off_by
        settle_final_weight(record, grams=grams, by=group_buy.producer.user, now=now)


def _declined_card(group_buy: GroupBuy, now: datetime) -> None:
    """One pledge of the succeeded group-buy as settlement leaves it when a saved card is
    declined: unpaid, in its grace period, with a failed card payment. (The demo runs without
    Stripe keys, so the card and its decline are written here rather than made at Stripe.)"""
    record = db.session.scalars(
        select(Pledge).where(Pledge.group_buy_id == group_buy.id, Pledge.status == "due").order_by(Pledge.id.desc())
    ).first()
    record.payment_method, record.status, record.pay_by = "stripe", "unpaid", now + grace_period()
    payment = db.session.scalar(select(Payment).where(Payment.pledge_id == record.id))
    payment.provider, payment.status, payment.attempt = "stripe", "failed", 2
    payment.failure_message = "Your card was declined."
    db.session.commit()


def _seed_follows(now: datetime) -> None:
    """The first buyers are regulars of the hanwoo farm and the cabbage field."""
    for email, _name in BUYERS[:3]:
        buyer = find_user_by_email(email)
        for spec in (PRODUCERS[0], PRODUCERS[2]):
            follow(user=buyer, producer=find_user_by_email(spec["email"]).producer, now=now)


def _seed_referrals(now: datetime) -> None:
    """A chain of four: 지연 tells 민호 about the cabbage farm, 민호 tells 소라, 소라 tells Daniel. A
    past sale with a 10% recommendation reward was bought through the chain and handed over, so the
    recommenders hold store credit; the chain goes on to the hanwoo farm; some recommend in public."""
    hanwoo, _tea, cabbage = (_producer(spec) for spec in PRODUCERS)
    jiyeon, minho, sora, daniel = (find_user_by_email(email) for email, _name in BUYERS)
    day = timedelta(days=1)
    started = now - 9 * day
    link_j = referrals.share(jiyeon, kind="producer", target_id=cabbage.id, now=started)
    referrals.open_link(link_j, user=minho, guest=None, now=started + timedelta(hours=2))
    field = db.session.scalar(select(Subject).where(Subject.producer_id == cabbage.id))
    link_m = referrals.share(minho, kind="subject", target_id=field.id, now=started + timedelta(hours=3))
    referrals.open_link(link_m, user=sora, guest=None, now=started + timedelta(hours=5))
    link_s = referrals.share(sora, kind="producer", target_id=cabbage.id, now=started + timedelta(hours=6))
    referrals.open_link(link_s, user=daniel, guest=None, now=started + timedelta(hours=8))
    for n in range(1, 7):  # neighbours who only looked
        neighbour = find_user_by_email(f"neighbour{n}@farmstore.example")
        referrals.open_link((link_j, link_m, link_s)[n % 3], user=neighbour, guest=None, now=started + n * day / 3)
    mangwon = db.session.scalar(select(PickupPoint).where(PickupPoint.producer_id == cabbage.id))
    chain_sale = create_sale(
        producer=cabbage, by=cabbage.user, title="지난 토요일 배추 추천 나눔", pickup_point_id=mangwon.id,
        opens_at=started + day, closes_at=started + 3 * day, pickup_starts_at=_daytime(started + 4 * day),
        pickup_ends_at=_daytime(started + 4 * day, hour=12), reward_bps=1000,
        items=[ItemSpec(_product(cabbage, "김장 배추").id, 18000, 30, 3)], now=started + day,
    )  # fmt: skip
    orders = [
        place_order(
            sale=chain_sale, buyer=buyer, quantities={chain_sale.items[0].id: units}, checkout_key=f"demo-chain-{n}",
            now=started + (2 + n / 4) * day,
        )
        for n, (buyer, units) in enumerate([(daniel, 3), (sora, 2), (minho, 1)])
    ]  # fmt: skip
    handed_over = chain_sale.pickup_starts_at + timedelta(hours=1)
    for order in orders:
        check_in(sale=chain_sale, code=order.pickup_code, by=cabbage.user, now=handed_over)
    # The word spreads to the hanwoo farm: Daniel, brought by 소라, shares the hanwoo sale on.
    referrals.open_link(
        referrals.share(sora, kind="producer", target_id=hanwoo.id, now=now - 2 * day), user=daniel, guest=None,
        now=now - 2 * day,
    )  # fmt: skip
    referrals.open_link(
        referrals.share(daniel, kind="producer", target_id=hanwoo.id, now=now - day),
        user=find_user_by_email("neighbour7@farmstore.example"), guest=None, now=now - day,
    )  # fmt: skip
    referrals.endorse(
        jiyeon, kind="producer", target_id=cabbage.id, note="배추가 달고 아삭해요. 김장은 여기서!", now=now
    )
    referrals.endorse(minho, kind="producer", target_id=cabbage.id, note="", now=now)
    referrals.endorse(sora, kind="producer", target_id=hanwoo.id, note="누렁이 이야기를 3년째 보고 있어요.",
                      now=now)  # fmt: skip


GIFT_CERTIFICATE_KEYS = ("demo:gift-certificate:jiyeon", "demo:gift-certificate:jiyeon:expired")


def _seed_gift_certificates(now: datetime) -> None:
    """지연 holds a 강릉 중앙시장 gift certificate (5,000원, valid about three months) and one that
    expired last week (its expiry entry written by the tick's job). The market has no stalls yet, so
    nothing there can be bought through a chain: both are granted under the ledger keys in
    GIFT_CERTIFICATE_KEYS. Once stalls sell, rewards for purchases there arrive the same way."""
    from farmstore.evangelists.demo import MARKET

    jiyeon = find_user_by_email(BUYERS[0][0])
    market = db.session.scalar(select(Village).where(Village.name == MARKET["name"]))
    if market is None or db.session.scalar(select(CreditCertificate.id).where(CreditCertificate.user_id == jiyeon.id)):
        return
    days = timedelta(days=1)
    referrals.grant_credit(jiyeon, amount=2_000, key=GIFT_CERTIFICATE_KEYS[1], now=now - 100 * days,
                           market_id=market.id)  # fmt: skip
    referrals.expire_certificates(now=now - 8 * days)
    referrals.grant_credit(jiyeon, amount=5_000, key=GIFT_CERTIFICATE_KEYS[0], now=now - days, market_id=market.id)


def _seed_questions(now: datetime) -> None:
    """Buyers' questions: answered (one by the village's evangelist, if it has one, and one
    privately), a complaint waiting over a day and a fresh open question; the hanwoo farm has
    earned its "within a day" badge."""
    from farmstore.evangelists.services import village_evangelist
    from farmstore.inquiries.services import answer_question, ask_question

    hanwoo, tea, cabbage = (_producer(spec) for spec in PRODUCERS)
    jiyeon, minho, sora, daniel = (find_user_by_email(email) for email, _name in BUYERS)
    evangelist = village_evangelist(hanwoo.village_id)
    hour = timedelta(hours=1)
    gift_set = _product(hanwoo, "한우 정육 선물세트")
    questions = [
        # (producer, asker, topic, kind, private, about, body, hours ago, answered after (hours), answer)
        (hanwoo, jiyeon, "availability", "question", False, ("product", gift_set.id),
         "선물세트는 추석 전에 다시 나오나요?", 70, 3, "네, 추석 2주 전에 판매를 엽니다. 팔로우해 주세요."),
        (hanwoo, minho, "delivery", "question", False, ("producer", None),
         "성수동 말고 택배로도 받을 수 있나요?", 50, 5, "아이스박스 택배도 됩니다. 주문할 때 적어 주세요."),
        (hanwoo, sora, "price", "question", False, ("producer", None),
         "1/16 지분이면 한 가구가 먹기에 많을까요?", 30, 2, "4인 가족 기준으로 두세 달 드실 양이에요."),
        (cabbage, minho, "pickup", "question", False, ("producer", None),
         "망원시장 픽업 시간에 못 가면 어떻게 하나요?", 40, 8, "같은 날 저녁 7시까지 시장 사무실에 맡겨 둘게요."),
        (tea, sora, "quality", "question", True, ("producer", None),
         "임신 중인데 구절초차를 마셔도 될까요?", 60, 10, "카페인은 없지만, 꼭 의사 선생님께 먼저 여쭤 보세요."),
        (cabbage, daniel, "quality", "complaint", False, ("producer", None),
         "지난번 배추 상자에 시든 잎이 많았어요.", 30, None, None),
        (tea, jiyeon, "delivery", "question", False, ("producer", None),
         "제주도로도 보내 주시나요?", 2, None, None),
    ]  # fmt: skip
    for producer, asker, topic, kind, private, about, body, ago, after, answer in questions:
        question = ask_question(
            producer=producer, asker=asker, body=body, topic=topic, kind=kind, private=private,
            about_kind=about[0], about_id=about[1],
            now=now - ago * hour,
        )  # fmt: skip
        if answer:
            by = evangelist if (evangelist and producer is cabbage) else producer.user
            answer_question(question, by=by, body=answer, now=now - (ago - after) * hour)


def _seed_written_together(now: datetime) -> None:
    """With a village evangelist: a story written together and published on the tea farm, and a
    draft awaiting the cabbage farmer's approval."""
    from farmstore.evangelists import drafts
    from farmstore.evangelists.services import village_evangelist

    _hanwoo, tea, cabbage = (_producer(spec) for spec in PRODUCERS)
    evangelist = village_evangelist(tea.village_id)
    if evangelist is None:
        return
    hour = timedelta(hours=1)
    flowers = db.session.scalar(select(Subject).where(Subject.producer_id == tea.id))
    field = db.session.scalar(select(Subject).where(Subject.producer_id == cabbage.id))
    together = drafts.submit_draft(
        producer=tea, by=evangelist, kind="story", now=now - 3 * 24 * hour,
        data={"subject_id": flowers.id, "happened_on": None, "title": "할머니와 함께 꽃을 땄어요",
              "body": "아침 이슬이 마르기 전에 구절초를 한 송이씩 땄습니다. 할머니 손이 저보다 세 배는 빨라요."},
    )  # fmt: skip
    drafts.approve_draft(together, by=tea.user, now=now - 2 * 24 * hour)
    drafts.submit_draft(
        producer=cabbage, by=evangelist, kind="story", now=now - 5 * hour,
        data={"subject_id": field.id, "happened_on": None, "title": "김장 배추가 속이 찼어요",
              "body": "북쪽 밭 배추가 속이 단단하게 찼습니다. 다음 주부터 수확해요."},
    )  # fmt: skip
