"""Korea's first-level divisions, the regions villages are browsed by."""

from flask_babel import lazy_gettext as _l

REGIONS = {
    "seoul": _l("Seoul"),
    "busan": _l("Busan"),
    "daegu": _l("Daegu"),
    "incheon": _l("Incheon"),
    "gwangju": _l("Gwangju"),
    "daejeon": _l("Daejeon"),
    "ulsan": _l("Ulsan"),
    "sejong": _l("Sejong"),
    "gyeonggi": _l("Gyeonggi"),
    "gangwon": _l("Gangwon"),
    "chungbuk": _l("North Chungcheong"),
    "chungnam": _l("South Chungcheong"),
    "jeonbuk": _l("North Jeolla"),
    "jeonnam": _l("South Jeolla"),
    "gyeongbuk": _l("North Gyeongsang"),
    "gyeongnam": _l("South Gyeongsang"),
    "jeju": _l("Jeju"),
}

VILLAGE_KINDS = {"village": _l("Village"), "market": _l("Market")}
