"""Vietnamese reference data: the 34 provincial-level units in force since 1 July 2025."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from danhba.core.normalize import clean_text, fold

# (key, official name). Six centrally-run cities first, then the 28 provinces.
PROVINCES: list[tuple[str, str]] = [
    ("ha-noi", "Hà Nội"),
    ("hue", "Huế"),
    ("hai-phong", "Hải Phòng"),
    ("da-nang", "Đà Nẵng"),
    ("ho-chi-minh", "TP. Hồ Chí Minh"),
    ("can-tho", "Cần Thơ"),
    ("tuyen-quang", "Tuyên Quang"),
    ("cao-bang", "Cao Bằng"),
    ("lai-chau", "Lai Châu"),
    ("lao-cai", "Lào Cai"),
    ("thai-nguyen", "Thái Nguyên"),
    ("dien-bien", "Điện Biên"),
    ("lang-son", "Lạng Sơn"),
    ("son-la", "Sơn La"),
    ("phu-tho", "Phú Thọ"),
    ("bac-ninh", "Bắc Ninh"),
    ("quang-ninh", "Quảng Ninh"),
    ("hung-yen", "Hưng Yên"),
    ("ninh-binh", "Ninh Bình"),
    ("thanh-hoa", "Thanh Hóa"),
    ("nghe-an", "Nghệ An"),
    ("ha-tinh", "Hà Tĩnh"),
    ("quang-tri", "Quảng Trị"),
    ("quang-ngai", "Quảng Ngãi"),
    ("gia-lai", "Gia Lai"),
    ("khanh-hoa", "Khánh Hòa"),
    ("lam-dong", "Lâm Đồng"),
    ("dak-lak", "Đắk Lắk"),
    ("dong-nai", "Đồng Nai"),
    ("tay-ninh", "Tây Ninh"),
    ("vinh-long", "Vĩnh Long"),
    ("dong-thap", "Đồng Tháp"),
    ("an-giang", "An Giang"),
    ("ca-mau", "Cà Mau"),
]
PROVINCE_NAMES = dict(PROVINCES)

# The 63 provincial-level units before 1 July 2025 and the one each belongs to since (the 2025
# rearrangement, Resolution 202/2025/QH15): (old key, old name, current key). The 11 units that
# were not merged keep their key; Huế had already become a centrally-run city in January 2025.
PROVINCES_BEFORE_2025: list[tuple[str, str, str]] = [
    ("ha-noi", "Hà Nội", "ha-noi"),
    ("hue", "Huế", "hue"),
    ("lai-chau", "Lai Châu", "lai-chau"),
    ("dien-bien", "Điện Biên", "dien-bien"),
    ("son-la", "Sơn La", "son-la"),
    ("lang-son", "Lạng Sơn", "lang-son"),
    ("quang-ninh", "Quảng Ninh", "quang-ninh"),
    ("thanh-hoa", "Thanh Hóa", "thanh-hoa"),
    ("nghe-an", "Nghệ An", "nghe-an"),
    ("ha-tinh", "Hà Tĩnh", "ha-tinh"),
    ("cao-bang", "Cao Bằng", "cao-bang"),
    ("tuyen-quang", "Tuyên Quang", "tuyen-quang"),
    ("ha-giang", "Hà Giang", "tuyen-quang"),
    ("lao-cai", "Lào Cai", "lao-cai"),
    ("yen-bai", "Yên Bái", "lao-cai"),
    ("thai-nguyen", "Thái Nguyên", "thai-nguyen"),
    ("bac-kan", "Bắc Kạn", "thai-nguyen"),
    ("phu-tho", "Phú Thọ", "phu-tho"),
    ("vinh-phuc", "Vĩnh Phúc", "phu-tho"),
    ("hoa-binh", "Hòa Bình", "phu-tho"),
    ("bac-ninh", "Bắc Ninh", "bac-ninh"),
    ("bac-giang", "Bắc Giang", "bac-ninh"),
    ("hung-yen", "Hưng Yên", "hung-yen"),
    ("thai-binh", "Thái Bình", "hung-yen"),
    ("hai-phong", "Hải Phòng", "hai-phong"),
    ("hai-duong", "Hải Dương", "hai-phong"),
    ("ninh-binh", "Ninh Bình", "ninh-binh"),
    ("ha-nam", "Hà Nam", "ninh-binh"),
    ("nam-dinh", "Nam Định", "ninh-binh"),
    ("quang-tri", "Quảng Trị", "quang-tri"),
    ("quang-binh", "Quảng Bình", "quang-tri"),
    ("da-nang", "Đà Nẵng", "da-nang"),
    ("quang-nam", "Quảng Nam", "da-nang"),
    ("quang-ngai", "Quảng Ngãi", "quang-ngai"),
    ("kon-tum", "Kon Tum", "quang-ngai"),
    ("gia-lai", "Gia Lai", "gia-lai"),
    ("binh-dinh", "Bình Định", "gia-lai"),
    ("khanh-hoa", "Khánh Hòa", "khanh-hoa"),
    ("ninh-thuan", "Ninh Thuận", "khanh-hoa"),
    ("lam-dong", "Lâm Đồng", "lam-dong"),
    ("dak-nong", "Đắk Nông", "lam-dong"),
    ("binh-thuan", "Bình Thuận", "lam-dong"),
    ("dak-lak", "Đắk Lắk", "dak-lak"),
    ("phu-yen", "Phú Yên", "dak-lak"),
    ("ho-chi-minh", "TP. Hồ Chí Minh", "ho-chi-minh"),
    ("binh-duong", "Bình Dương", "ho-chi-minh"),
    ("ba-ria-vung-tau", "Bà Rịa - Vũng Tàu", "ho-chi-minh"),
    ("dong-nai", "Đồng Nai", "dong-nai"),
    ("binh-phuoc", "Bình Phước", "dong-nai"),
    ("tay-ninh", "Tây Ninh", "tay-ninh"),
    ("long-an", "Long An", "tay-ninh"),
    ("can-tho", "Cần Thơ", "can-tho"),
    ("soc-trang", "Sóc Trăng", "can-tho"),
    ("hau-giang", "Hậu Giang", "can-tho"),
    ("vinh-long", "Vĩnh Long", "vinh-long"),
    ("ben-tre", "Bến Tre", "vinh-long"),
    ("tra-vinh", "Trà Vinh", "vinh-long"),
    ("dong-thap", "Đồng Tháp", "dong-thap"),
    ("tien-giang", "Tiền Giang", "dong-thap"),
    ("an-giang", "An Giang", "an-giang"),
    ("kien-giang", "Kiên Giang", "an-giang"),
    ("ca-mau", "Cà Mau", "ca-mau"),
    ("bac-lieu", "Bạc Liêu", "ca-mau"),
]
OLD_PROVINCE_NAMES = {old: name for old, name, _new in PROVINCES_BEFORE_2025}

# Abbreviations, older names and big cities people write instead of the province, folded,
# spaces removed. A target is a current key or an old one (then ``merged_from`` is set).
_ALIASES = {
    "hcm": "ho-chi-minh", "tphcm": "ho-chi-minh", "hcmc": "ho-chi-minh", "saigon": "ho-chi-minh",
    "sg": "ho-chi-minh", "tpsg": "ho-chi-minh", "thuduc": "ho-chi-minh",
    "hn": "ha-noi", "tphn": "ha-noi", "hatay": "ha-tay",
    "dn": "da-nang", "hp": "hai-phong", "ct": "can-tho",
    "thuathienhue": "thua-thien-hue", "tthue": "thua-thien-hue", "tth": "thua-thien-hue",
    "brvt": "ba-ria-vung-tau", "vungtau": "ba-ria-vung-tau", "baria": "ba-ria-vung-tau",
    "baccan": "bac-kan", "daclac": "dak-lak", "daknong": "dak-nong", "dacnong": "dak-nong",
    "khanhhoa": "khanh-hoa", "nhatrang": "khanh-hoa", "dalat": "lam-dong", "bienhoa": "dong-nai",
    "quynhon": "binh-dinh", "buonmathuot": "dak-lak", "halong": "quang-ninh",
}  # fmt: skip
# Names older than the 63 (renamed or merged before 2025): key → (name, current key).
_OLDER = {
    "thua-thien-hue": ("Thừa Thiên Huế", "hue"),
    "ha-tay": ("Hà Tây", "ha-noi"),
}

_PREFIXES = ("tinh ", "thanh pho ", "tp ", "t p ", "tx ")
_SUFFIXES = (" city", " province", " tinh", " thanh pho", " viet nam", " vietnam", " vn")


@dataclass(frozen=True)
class ProvinceMatch:
    """A province recognised in free text: the current ``key`` and official ``name``, the
    ``raw`` text as it came (cleaned) and, when it named a province merged or renamed since,
    that old name in ``merged_from`` (``""`` otherwise)."""

    key: str
    name: str
    raw: str
    merged_from: str


def _squash(text: str) -> str:
    return text.replace(" ", "")


def _build_index() -> dict[str, tuple[str, str]]:
    index: dict[str, tuple[str, str]] = {}
    for key, name in PROVINCES:
        index[_squash(key.replace("-", " "))] = (key, "")
        index[_squash(_words(name))] = (key, "")
    for old, name, new in PROVINCES_BEFORE_2025:
        if old != new:
            index[_squash(old.replace("-", " "))] = (new, name)
            index[_squash(_words(name))] = (new, name)
    for old, (name, new) in _OLDER.items():
        index[_squash(old.replace("-", " "))] = (new, name)
        index[_squash(_words(name))] = (new, name)
    for alias, target in _ALIASES.items():
        if target in PROVINCE_NAMES:
            index[alias] = (target, "")
        elif target in _OLDER:
            index[alias] = (_OLDER[target][1], _OLDER[target][0])
        else:
            new = next(n for o, _name, n in PROVINCES_BEFORE_2025 if o == target)
            index[alias] = (new, OLD_PROVINCE_NAMES[target])
    return index


def _words(text: object) -> str:
    """Folded words with punctuation (``.``, ``-``, ``–``, ``,``, brackets) taken as spaces."""
    return " ".join(re.sub(r"[^\w]+|_", " ", fold(text)).split())


def province_from_text(value: object) -> ProvinceMatch | None:
    """The current province a text names, or ``None`` when it names none.

    Accepts official names with or without diacritics and spacing (``"Hà Nội"``, ``"ha noi"``,
    ``"HANOI"``), "Tỉnh …" / "Thành phố …" / "TP. …" / "… city" / "… province" forms, the
    usual abbreviations (HCM, TP.HCM, Sài Gòn, SG, HN, BRVT) and every one of the 63 provinces
    from before 1 July 2025, which map to the one they are part of now (``"Bình Dương"`` →
    TP. Hồ Chí Minh with ``merged_from="Bình Dương"``).
    """
    return _province_from_clean(clean_text(value))


@functools.lru_cache(maxsize=4096)
def _province_from_clean(raw: str) -> ProvinceMatch | None:
    folded = _words(raw)
    if not folded:
        return None
    candidates = [folded]
    for suffix in _SUFFIXES:
        if folded.endswith(suffix) and len(folded) > len(suffix):
            candidates.append(folded[: -len(suffix)])
    for text in list(candidates):
        for prefix in _PREFIXES:
            if text.startswith(prefix) and len(text) > len(prefix):
                candidates.append(text[len(prefix) :])
    for text in candidates:
        hit = _INDEX.get(_squash(text))
        if hit:
            key, merged_from = hit
            return ProvinceMatch(key, PROVINCE_NAMES[key], raw, merged_from)
    return None


def province_key(text: object) -> str | None:
    """The key of a current province typed as a name, an abbreviation, a key or the name of a
    province merged into it in 2025; ``None`` when unknown."""
    match = province_from_text(text)
    return match.key if match else None


_INDEX = _build_index()
