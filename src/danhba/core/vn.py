"""Vietnamese reference data: the 34 provincial-level units in force since 1 July 2025."""

from __future__ import annotations

from danhba.core.normalize import fold

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

# Common ways people write a province, folded. The import issue extends this with the
# pre-2025 provinces that were merged into the current ones.
_ALIASES = {
    "hcm": "ho-chi-minh", "tp hcm": "ho-chi-minh", "tphcm": "ho-chi-minh", "sai gon": "ho-chi-minh",
    "saigon": "ho-chi-minh", "tp ho chi minh": "ho-chi-minh", "thanh pho ho chi minh": "ho-chi-minh",
    "hn": "ha-noi", "tp ha noi": "ha-noi", "hanoi": "ha-noi", "thanh pho ha noi": "ha-noi",
    "dn": "da-nang", "danang": "da-nang", "hp": "hai-phong", "ct": "can-tho", "thua thien hue": "hue",
}  # fmt: skip


def province_key(text: object) -> str | None:
    """The key of a province typed as a name, an abbreviation or a key; ``None`` when unknown."""
    folded = " ".join(fold(text).replace(".", " ").replace("-", " ").split())
    if not folded:
        return None
    for key, name in PROVINCES:
        if folded in (key.replace("-", " "), " ".join(fold(name).replace(".", " ").split())):
            return key
    for prefix in ("tinh ", "thanh pho ", "tp "):
        if folded.startswith(prefix):
            rest = folded[len(prefix) :]
            for key, _name in PROVINCES:
                if rest == key.replace("-", " "):
                    return key
    return _ALIASES.get(folded)
