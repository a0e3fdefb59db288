"""The evangelists' part of `flask farm seed-demo`: 소라 looks after 햇살마을 (approved by the
operator), onboarded 들꽃차 할머니 by invitation and visited 느릅골 한우농장; one invitation is still
open; 민호 has applied to adopt the market 강릉 중앙시장, waiting for the operator. Idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from farmstore.accounts.services import find_user_by_email
from farmstore.evangelists.models import Adoption, Helper, Invitation
from farmstore.evangelists.services import (
    apply_to_adopt,
    approve_adoption,
    create_invitation,
    latest_verification,
    new_invitation_code,
    record_action,
    verify_producer,
)
from farmstore.extensions import db
from farmstore.villages.models import Village
from farmstore.villages.services import create_village

EVANGELIST = "sora@farmstore.example"
APPLICANT = "minho@farmstore.example"
ONBOARDED = "tea@farmstore.example"
VISITED = "hanwoo@farmstore.example"
MARKET = {
    "name": "강릉 중앙시장",
    "region": "gangwon",
    "kind": "market",
    "description": "강릉 시내의 오래된 상설시장. 아직 돌봐 줄 전도사를 기다리고 있습니다.",
}


def seed_evangelists(*, village: Village, operator, now: datetime) -> None:
    """Add whatever part of the evangelists' demo is missing."""
    sora, minho = find_user_by_email(EVANGELIST), find_user_by_email(APPLICANT)
    if not db.session.scalar(select(Adoption.id).where(Adoption.village_id == village.id)):
        adoption = apply_to_adopt(
            user=sora, village_id=village.id, now=now - timedelta(days=60),
            motivation="외할머니 댁이 햇살마을이라 어릴 때부터 다녔어요. 주말마다 내려가 사진과 이야기를 돕겠습니다.",
        )  # fmt: skip
        approve_adoption(adoption, operator=operator, now=now - timedelta(days=59))
    _onboard_by_invitation(sora, village, now)
    if not db.session.scalar(select(Invitation.id).where(Invitation.used_at.is_(None))):
        create_invitation(by=sora, note="강 건너 양봉장 이씨 아저씨", now=now - timedelta(days=2))
    hanwoo = find_user_by_email(VISITED).producer
    if latest_verification(hanwoo) is None:
        visit = (now - timedelta(days=20)).date()
        verify_producer(operator=operator, producer=hanwoo, visited_on=visit, now=now - timedelta(days=19))
    market = db.session.scalar(select(Village).where(Village.name == MARKET["name"]))
    if market is None:
        market = create_village(by=operator, now=now, **MARKET)
    if not db.session.scalar(select(Adoption.id).where(Adoption.village_id == market.id)):
        apply_to_adopt(
            user=minho, village_id=market.id, now=now - timedelta(days=1),
            motivation="강릉에서 자랐고 시장 상인분들을 잘 압니다. 온라인 판매를 도와드리고 싶어요.",
        )  # fmt: skip


def _onboard_by_invitation(sora, village: Village, now: datetime) -> None:
    """들꽃차 할머니 joined through 소라's invitation (the demo's producers exist before the
    evangelist, so the used invitation and the helper link are recorded as they would have been)."""
    producer = find_user_by_email(ONBOARDED).producer
    if db.session.get(Helper, producer.id) is not None:
        return
    joined = now - timedelta(days=45)
    invitation = Invitation(
        code=new_invitation_code(), village_id=village.id, evangelist_id=sora.id, note="들꽃차 할머니",
        created_at=joined - timedelta(days=3), expires_at=joined + timedelta(days=11), used_at=joined,
        used_by_id=producer.user_id,
    )  # fmt: skip
    db.session.add(invitation)
    db.session.flush()
    db.session.add(Helper(producer_id=producer.id, user_id=sora.id, invitation_id=invitation.id, created_at=joined))
    record_action(sora, producer, "onboarded", f"invitation {invitation.code}", joined)
    db.session.commit()
