"""Benchmark ``import`` — TARGETS.md row "import": a 1,000,000-row messy CSV (mixed phone formats incl.
old 11-digit mobiles, cp1258 and UTF-8 files, 5% duplicates, 2% invalid rows) → normalised, validated,
upserted contacts + error report, in ≤ 60 s end to end, ≤ 4× the raw baseline, peak RSS ≤ 1 GiB.

1. Generates two CSV files from a fixed seed (Faker ``vi_VN`` plus danhba's Vietnamese name lists),
   streamed to disk: 70% of the rows as UTF-8 with a BOM (Excel's "CSV UTF-8") and 30% as cp1258
   (Excel's "CSV" on Vietnamese Windows), with the counts of unique people, duplicates and invalid
   rows recorded so the import's created/merged/rejected figures can be checked against them.
2. Baseline: stdlib ``csv`` → ``sqlite3`` ``executemany`` (``INSERT OR IGNORE``) into a table with a
   UNIQUE index on email, no normalisation, in a child process.
3. danhba: a fresh database migrated by ``danhba migrate``, then ``danhba import FILE --json`` for
   each file in turn (the second file lands in the same database), each in a child process whose
   wall time and peak RSS (``wait4``) are measured.

``python -m bench import [--rows N] [--quick] [--keep] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import codecs
import csv
import datetime as dt
import functools
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import COPY_MIGRATED, DATA_DIR, REPO_DIR, machine_info, write_results

NAME = "import"
TARGET_SECONDS = 60.0
TARGET_RATIO = 4.0
TARGET_RSS_MIB = 1024.0
GENERATOR_VERSION = 2  # bump when the generated files (or what is counted of them) change: --keep regenerates
DEFAULT_ROWS = 1_000_000
QUICK_ROWS = 20_000
UTF8_SHARE = 0.7  # the rest of the rows go to the cp1258 file
DUPLICATE_SHARE = 0.05
INVALID_SHARE = 0.02
# Fixed, so the same seed writes the same bytes whatever day the benchmark runs.
REFERENCE_DATE = dt.date(2025, 6, 30)
EXCEL_EPOCH = dt.date(1899, 12, 30)
RESERVOIR = 20_000  # earlier people a duplicate row is drawn from (a uniform sample of all of them)

HEADERS = (
    "Họ và tên", "Email", "Số điện thoại", "Ngày sinh", "Giới tính", "Địa chỉ", "Tỉnh/Thành phố", "Công ty",
    "Chức vụ", "Nhóm", "Ghi chú",
)  # fmt: skip
MAPPING: dict[str, Any] = {
    "columns": {
        "Họ và tên": "full_name",
        "Email": "email",
        "Số điện thoại": "phone",
        "Ngày sinh": "birthday",
        "Giới tính": "gender",
        "Địa chỉ": "address",
        "Tỉnh/Thành phố": "province",
        "Công ty": "company",
        "Chức vụ": "job_title",
        "Nhóm": "tags",
        "Ghi chú": "note",
    },
    "options": {},
}

# --- options and locations -----------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench import", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="rows in all (default 1,000,000; 20,000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="20,000 rows")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--database-url",
        default="",
        help="danhba's database: default a fresh SQLite file var/bench/import-N.sqlite3; postgres://… to "
        "measure PostgreSQL (its name must contain 'bench': the benchmark empties it). The baseline is "
        "always SQLite.",
    )
    parser.add_argument(
        "--keep", action="store_true", help="reuse the generated CSV files if they match, and keep files and database"
    )
    parser.add_argument("--data-dir", default="", help="where files and databases go (default var/bench)")
    parser.add_argument(
        "--explicit-encoding",
        action="store_true",
        help="pass each file's encoding to danhba import (default: danhba detects it, as for a user)",
    )
    parser.add_argument("--baseline-only", action="store_true", help="generate and run the baseline only")
    parser.add_argument(
        "--out", default="", help="directory for import.json / import-postgresql.json (default bench/results)"
    )
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = QUICK_ROWS if args.quick else DEFAULT_ROWS
    if args.rows < 100:
        parser.error("--rows must be at least 100")
    return args


@dataclass
class Target:
    url: str
    vendor: str
    sqlite_path: Path | None
    var_dir: Path


def resolve_target(args: argparse.Namespace, data_dir: Path) -> Target:
    url = args.database_url or f"sqlite:///{data_dir / f'import-{args.rows}.sqlite3'}"
    if url.startswith("sqlite:"):
        path = Path(urllib.parse.urlparse(url).path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return Target(f"sqlite:///{path}", "sqlite", path, path.parent / f"{path.stem}-var")
    dbname = urllib.parse.urlparse(url).path.lstrip("/")
    if "bench" not in dbname:
        raise SystemExit(f"refusing to empty database '{dbname}': its name must contain 'bench'")
    return Target(url, "postgresql", None, data_dir / f"{dbname}-import-var")


def child_env(target: Target) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = target.url
    env["DANHBA_VAR_DIR"] = str(target.var_dir)
    env["DJANGO_SETTINGS_MODULE"] = "danhba.settings"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_DIR / "src"), env.get("PYTHONPATH", "")) if p)
    return env


# --- the messy files -------------------------------------------------------------------------

_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_UNENCODABLE = Counter[str]()


def _cp1258_decompose(exc: UnicodeError) -> tuple[str, int]:
    """What Windows writes for a Vietnamese letter cp1258 has no single byte for: the base letter
    (with its circumflex, breve or horn, which cp1258 has) followed by a combining tone mark."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start : exc.end]:
        text = _CP1258_SPELLING.get(ch)
        if text is None:
            decomposed = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
            text = base + "".join(c for c in decomposed if c in _TONES)
            try:
                text.encode("cp1258")
            except UnicodeEncodeError:
                text = "?"  # what Excel writes for a character the code page lacks
            _CP1258_SPELLING[ch] = text
        if text == "?":
            _UNENCODABLE[ch] += 1
        out.append(text)
    return "".join(out), exc.end


_CP1258_SPELLING: dict[str, str] = {}


codecs.register_error("danhba_bench_cp1258", _cp1258_decompose)


@dataclass(frozen=True, slots=True)
class Known:
    """An earlier person a duplicate row can repeat: canonical identities and the values to re-type."""

    name: str  # as generated, NFC, proper case
    email: str  # lower case, "" if none
    national: str  # "0912345678" / "02838234567", "" if none
    area: int  # landline area-code length (2 or 3), 0 for a mobile
    birthday: dt.date | None
    gender: str  # "male", "female", ""
    province: str  # current key, "" if none
    file: int


def _cum(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


MOBILE_STYLES = {
    "0912 345 678": 20, "0912345678": 18, "0912.345.678": 6, "0912-345-678": 4, "+84 912345678": 7,
    "+84 912 345 678": 5, "(+84) 912-345-678": 3, "84912345678": 7, "912345678 (lost 0)": 10,
    "9.12345678E8 (Excel)": 5, "old 11-digit": 15,
}  # fmt: skip
OLD_STYLES = ("01693456789", "0169 345 6789", "1693456789 (lost 0)", "+84 169 345 6789")
LANDLINE_STYLES = ("(028) 3823 4567", "028 3823 4567", "02838234567", "028.3823.4567", "+84 28 3823 4567",
                   "2838234567 (lost 0)")  # fmt: skip
LANDLINE_AREAS = (("24", 30), ("28", 35), ("236", 10), ("225", 10), ("292", 8), ("251", 7))
DATE_STYLES = {"dd/mm/yyyy": 45, "d/m/yyyy": 10, "d/m/yy": 12, "yyyy-mm-dd": 20, "Excel serial": 8, "dd-mm-yyyy": 5}
GENDER_TEXT = {
    "male": (("Nam", 50), ("nam", 5), ("NAM", 5), ("M", 15), ("1", 15), ("Male", 10)),
    "female": (("Nữ", 50), ("nữ", 5), ("NỮ", 5), ("F", 15), ("0", 15), ("Nu", 10)),
}
# How people write the two big cities; other provinces are written by their name, with or without
# diacritics, or (15%) by the name of the pre-2025 province they lived in.
CITY_TEXT = {
    "ho-chi-minh": ("TP.HCM", "HCM", "Sài Gòn", "TP. Hồ Chí Minh", "Hồ Chí Minh", "tp hcm", "TPHCM", "Ho Chi Minh"),
    "ha-noi": ("Hà Nội", "HN", "Ha Noi", "TP. Hà Nội", "Thành phố Hà Nội", "ha noi", "Hanoi"),
}
PROVINCE_WEIGHTS = {"ha-noi": 18, "ho-chi-minh": 22, "hai-phong": 5, "da-nang": 4, "can-tho": 3, "hue": 2}
JOB_TITLES = (
    "Nhân viên", "Nhân viên kinh doanh", "Trưởng phòng", "Giám đốc", "Phó giám đốc", "Kế toán", "Kế toán trưởng",
    "Chủ cửa hàng", "Trưởng nhóm", "Chuyên viên", "Thư ký", "Quản lý", "Kỹ sư", "Giáo viên", "Bác sĩ",
)  # fmt: skip
NOTES = (
    "Khách quen, hay mua dịp Tết", "Gọi sau 17h", "Đã gửi báo giá", "Khách hỏi giá sỉ", "Hội chợ tháng 3",
    "Giới thiệu từ anh Tuấn", "Chưa liên hệ được", "Muốn nhận hóa đơn VAT", "Liên hệ qua Zalo", "Khách cũ, quay lại",
)  # fmt: skip
TYPO_DOMAINS = ("gmial.com", "gmai.com", "gmail.con", "yaho.com", "yahooo.com", "hotmial.com", "outlok.com")
EMAIL_DOMAINS = (("example.com", 6), ("example.net", 3), ("example.org", 1))
BAD_DATES = ("31/02/1990", "30/02/1985", "29/02/1991", "31/04/1988", "31/06/1979", "31/09/1995", "32/01/1990",
             "15/13/1987")  # fmt: skip
INVALID_KINDS = ("bad_email", "short_phone", "impossible_date", "note_only")


class MessyCsv:
    """Writes the benchmark's files row by row; every random draw comes from one seeded ``Random``."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        from danhba.contacts import demo
        from danhba.core.vn import PROVINCES, PROVINCES_BEFORE_2025

        self.rng = random.Random(seed)
        fake = Faker("vi_VN")
        fake.seed_instance(seed)
        rng = self.rng
        self.family = [n for n, _ in demo.FAMILY_NAMES]
        self.family_cum = _cum([w for _, w in demo.FAMILY_NAMES])
        self.middle = {"female": demo.MIDDLE_FEMALE, "male": demo.MIDDLE_MALE}
        self.given = {"female": demo.GIVEN_FEMALE, "male": demo.GIVEN_MALE}
        self.mobile_prefixes = demo.MOBILE_PREFIXES
        self.old_prefix_of = demo.OLD_PREFIX_OF
        self.tags = [(name, share) for name, _color, share in demo.TAGS]
        self.streets = [fake.street_address() for _ in range(3000)]
        self.wards = sorted({f"{rng.choice(('Phường', 'Xã'))} {fake.commune_name()}" for _ in range(400)})
        self.companies = [
            f"{rng.choice(demo.COMPANY_KINDS)} {rng.choice(demo.COMPANY_SECTORS)[0]} "
            f"{' '.join(rng.sample(demo.BRAND_SYLLABLES, 2))}"
            for _ in range(5000)
        ]
        self.province_keys = [key for key, _ in PROVINCES]
        self.province_names = dict(PROVINCES)
        self.province_cum = _cum([PROVINCE_WEIGHTS.get(k, 1.5) for k in self.province_keys])
        self.old_provinces: dict[str, list[str]] = {}
        for _old, old_name, new in PROVINCES_BEFORE_2025:
            if _old != new:
                self.old_provinces.setdefault(new, []).append(old_name)
        self.mobile_styles = list(MOBILE_STYLES)
        self.mobile_cum = _cum(list(MOBILE_STYLES.values()))
        self.date_styles = list(DATE_STYLES)
        self.date_cum = _cum(list(DATE_STYLES.values()))
        self.area_codes = [a for a, _ in LANDLINE_AREAS]
        self.area_cum = _cum([w for _, w in LANDLINE_AREAS])
        self.emails_taken: set[str] = set()
        self.phones_taken: set[str] = set()
        self.known: list[Known] = []
        self.seen = 0
        self.stats: dict[str, Counter[str]] = {
            k: Counter()
            for k in (
                "name",
                "email",
                "phone",
                "birthday",
                "gender",
                "province",
                "invalid",
                "duplicate",
                "duplicate_of",
            )
        }

    # --- identities and values ---------------------------------------------------------------

    def _name(self, gender: str) -> str:
        rng = self.rng
        sex = gender or rng.choice(("male", "female"))
        family = rng.choices(self.family, cum_weights=self.family_cum)[0]
        middle = rng.choice(self.middle[sex]) if rng.random() < 0.93 else ""
        given = rng.choice(self.given[sex])
        if rng.random() < 0.12:
            middle = f"{middle} {rng.choice(self.given[sex])}".strip()
        return " ".join(p for p in (family, middle, given) if p)

    def _messy_name(self, name: str) -> tuple[str, str]:
        from danhba.core.normalize import fold, name_case

        r = self.rng.random()
        if r < 0.66:
            return name, "as written"
        if r < 0.80:
            return name_case(fold(name)), "without diacritics"
        if r < 0.86:
            return name.upper(), "UPPER CASE"
        if r < 0.91:
            return name.lower(), "lower case"
        words = name.split(" ")
        i = self.rng.randrange(len(words))
        words[i] = words[i] + " "
        return "  " + " ".join(words) + " ", "odd spaces"

    def _email(self, name: str) -> str:
        from danhba.core.normalize import fold

        rng = self.rng
        words = fold(name).split()
        f, g = words[0], words[-1]
        m = "".join(words[1:-1])
        initials = "".join(w[0] for w in words[1:-1])
        local = rng.choice(
            (
                f"{g}.{f}{rng.randrange(100)}",
                f"{g}{f}{rng.randrange(60, 100):02d}",
                f"{f}{initials}{g}",
                ".".join(w for w in (f, m, g) if w),
                f"{g}{rng.randrange(1000, 10000)}",
                f"{g}_{f}",
            )
        )
        domain = rng.choices([d for d, _ in EMAIL_DOMAINS], [w for _, w in EMAIL_DOMAINS])[0]
        if rng.random() < 0.006:
            domain = rng.choice(TYPO_DOMAINS)
        email = f"{local}@{domain}"
        while email in self.emails_taken:
            email = f"{local}{rng.randrange(10, 100000)}@{domain}"
        self.emails_taken.add(email)
        return email

    def _messy_email(self, email: str) -> tuple[str, str]:
        r = self.rng.random()
        if email.split("@", 1)[1] in TYPO_DOMAINS:
            kind = "typo domain"
        elif r < 0.08:
            return email[:1].upper() + email[1:], "Capitalised"
        elif r < 0.11:
            return email.upper(), "UPPER CASE"
        elif r < 0.14:
            return f" {email} ", "spaces around"
        else:
            kind = "lower case"
        return email, kind

    def _phone(self) -> tuple[str, int]:
        rng = self.rng
        while True:
            if rng.random() < 0.08:
                area = rng.choices(self.area_codes, cum_weights=self.area_cum)[0]
                digits = 10 - len(area)
                national = f"0{area}{rng.choice('36')}{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"
            else:
                area = ""
                national = f"{rng.choice(self.mobile_prefixes)}{rng.randrange(10**7):07d}"
            if national not in self.phones_taken:
                self.phones_taken.add(national)
                return national, len(area)

    def _messy_phone(self, national: str, area: int) -> tuple[str, str]:
        rng = self.rng
        n = national
        if area:
            a, sub = n[1 : 1 + area], n[1 + area :]
            style = rng.choice(LANDLINE_STYLES)
            half = len(sub) // 2 if area == 2 else 3
            s1, s2 = sub[:half], sub[half:]
            text = {
                "(028) 3823 4567": f"(0{a}) {s1} {s2}", "028 3823 4567": f"0{a} {s1} {s2}", "02838234567": n,
                "028.3823.4567": f"0{a}.{s1}.{s2}", "+84 28 3823 4567": f"+84 {a} {s1} {s2}",
                "2838234567 (lost 0)": n[1:],
            }[style]  # fmt: skip
            return text, "landline " + style
        style = rng.choices(self.mobile_styles, cum_weights=self.mobile_cum)[0]
        if style == "old 11-digit":
            old = self.old_prefix_of.get(n[:3])
            if old is None:
                style = "0912345678"
            else:
                o = old + n[3:]
                sub = rng.choice(OLD_STYLES)
                text = {
                    "01693456789": o, "0169 345 6789": f"{o[:4]} {o[4:7]} {o[7:]}", "1693456789 (lost 0)": o[1:],
                    "+84 169 345 6789": f"+84 {o[1:4]} {o[4:7]} {o[7:]}",
                }[sub]  # fmt: skip
                return text, "old 11-digit " + sub
        d = n[1:]
        if style == "9.12345678E8 (Excel)":
            # Excel's scientific notation with every digit kept: 9.12345678E8 or 9.12345678E+08.
            mantissa = d[1:].rstrip("0") or "0"
            return f"{d[0]}.{mantissa}E{'+0' if rng.random() < 0.5 else ''}{len(d) - 1}", style
        text = {
            "0912 345 678": f"{n[:4]} {n[4:7]} {n[7:]}", "0912345678": n, "0912.345.678": f"{n[:4]}.{n[4:7]}.{n[7:]}",
            "0912-345-678": f"{n[:4]}-{n[4:7]}-{n[7:]}", "+84 912345678": f"+84 {d}",
            "+84 912 345 678": f"+84 {d[:3]} {d[3:6]} {d[6:]}", "(+84) 912-345-678": f"(+84) {d[:3]}-{d[3:6]}-{d[6:]}",
            "84912345678": f"84{d}", "912345678 (lost 0)": d,
        }[style]  # fmt: skip
        return text, style

    def _birthday(self) -> dt.date | None:
        if self.rng.random() < 0.15:
            return None
        return REFERENCE_DATE - dt.timedelta(days=self.rng.randrange(18 * 365, 70 * 365))

    def _messy_date(self, d: dt.date) -> tuple[str, str]:
        style = self.rng.choices(self.date_styles, cum_weights=self.date_cum)[0]
        text = {
            "dd/mm/yyyy": f"{d.day:02d}/{d.month:02d}/{d.year}", "d/m/yyyy": f"{d.day}/{d.month}/{d.year}",
            "d/m/yy": f"{d.day}/{d.month}/{d.year % 100:02d}", "yyyy-mm-dd": d.isoformat(),
            "Excel serial": str((d - EXCEL_EPOCH).days), "dd-mm-yyyy": f"{d.day:02d}-{d.month:02d}-{d.year}",
        }[style]  # fmt: skip
        return text, style

    def _messy_gender(self, gender: str) -> tuple[str, str]:
        if not gender:
            return "", "blank"
        choices = GENDER_TEXT[gender]
        text = self.rng.choices([t for t, _ in choices], [w for _, w in choices])[0]
        return text, text

    def _province(self) -> str:
        if self.rng.random() < 0.08:
            return ""
        return self.rng.choices(self.province_keys, cum_weights=self.province_cum)[0]

    def _messy_province(self, key: str) -> tuple[str, str]:
        from danhba.core.normalize import fold, name_case

        if not key:
            return "", "blank"
        rng = self.rng
        olds = self.old_provinces.get(key)
        if olds and rng.random() < 0.15:
            return rng.choice(olds), "pre-2025 name"
        if key in CITY_TEXT:
            return rng.choice(CITY_TEXT[key]), "city alias"
        name = self.province_names[key]
        if rng.random() < 0.2:
            return name_case(fold(name)), "without diacritics"
        return (f"Tỉnh {name}" if rng.random() < 0.15 else name), "official name"

    def _others(self) -> list[str]:
        """Address, province text, company, job title, tags, note: values no identity rests on."""
        rng = self.rng
        address = f"{rng.choice(self.streets)}, {rng.choice(self.wards)}" if rng.random() < 0.7 else ""
        company = rng.choice(self.companies) if rng.random() < 0.35 else ""
        job = rng.choice(JOB_TITLES) if company or rng.random() < 0.1 else ""
        tags = "; ".join(name for name, share in self.tags if rng.random() < share)
        note = rng.choice(NOTES) if rng.random() < 0.2 else ""
        return [address, company, job, tags, note]

    # --- rows --------------------------------------------------------------------------------

    def new_person(self, file: int, why: str = "new") -> tuple[Known, list[str]]:
        """A person seen for the first time, and their row."""
        rng = self.rng
        gender = rng.choice(("male", "female")) if rng.random() < 0.85 else ""
        name = self._name(gender)
        email = self._email(name) if rng.random() < 0.9 else ""
        national, area = self._phone() if rng.random() < 0.92 or not email else ("", 0)
        person = Known(name, email.lower(), national, area, self._birthday(), gender, self._province(), file)
        return person, self.render(person, why)

    def render(self, p: Known, why: str, *, email: bool = True, phone: bool = True) -> list[str]:
        # The detail counts describe the valid rows; an invalid row's other values are not counted.
        st = self.stats if why != "invalid" else {k: Counter[str]() for k in self.stats}
        name, k = self._messy_name(p.name)
        st["name"][k] += 1
        email_text = ""
        if email and p.email:
            email_text, k = self._messy_email(p.email)
            st["email"][k] += 1
        else:
            st["email"]["blank"] += 1
        phone_text = ""
        if phone and p.national:
            phone_text, k = self._messy_phone(p.national, p.area)
            st["phone"][k] += 1
        else:
            st["phone"]["blank"] += 1
        birthday = ""
        if p.birthday is not None and (why == "new" or self.rng.random() < 0.7):
            birthday, k = self._messy_date(p.birthday)
            st["birthday"][k] += 1
        else:
            st["birthday"]["blank"] += 1
        gender, k = self._messy_gender(p.gender)
        st["gender"][k] += 1
        province, k = self._messy_province(p.province)
        st["province"][k] += 1
        address, company, job, tags, note = self._others()
        return [name, email_text, phone_text, birthday, gender, address, province, company, job, tags, note]

    def duplicate(self, file: int) -> tuple[Known, list[str]]:
        """A later row for someone already seen (maybe in the other file): the same email (in other
        case) or the same phone (in another format), the name retyped, other values partly new."""
        rng = self.rng
        p = rng.choice(self.known)
        r = rng.random()
        if p.email and p.national:
            how = "same email" if r < 0.45 else "same phone" if r < 0.8 else "same email and phone"
        else:
            how = "same email" if p.email else "same phone"
        self.stats["duplicate"][how] += 1
        self.stats["duplicate_of"]["same file" if p.file == file else "other file"] += 1
        return p, self.render(p, "duplicate", email=how != "same phone", phone=how != "same email")

    def invalid(self, file: int, kind: str) -> tuple[list[str], bool]:
        """A row with exactly one thing wrong that cannot be repaired; never repeated later. And
        whether danhba still loads it, without the bad value: it does while the row keeps a valid
        email or phone (a bad date, a bad email beside a phone, a bad phone beside an email)."""
        rng = self.rng
        self.stats["invalid"][kind] += 1
        if kind == "note_only":
            return ["", "", "", "", "", "", "", "", "", "", rng.choice(NOTES)], False
        person, row = self.new_person(file, "invalid")
        if kind == "bad_email":
            local = (person.email or self._email(person.name)).split("@", 1)[0]
            row[1] = rng.choice((f"{local}@", f"{local}@gmail", f"{local}@@example.com", f"{local} x@example.com"))
            return row, bool(row[2])
        if kind == "short_phone":
            row[2] = rng.choice(("12345", "0912 3", "09123", "8491"))
            return row, bool(row[1])
        row[3] = rng.choice(BAD_DATES)
        return row, True

    def write(
        self,
        files: list[tuple[Path, str, int]],
        say: Callable[[str], None],
        truth: list[tuple[str, Known | None]] | None = None,
    ) -> dict[str, Any]:
        """Write ``files`` ((path, encoding, rows) in order) and return what they hold. ``truth``, if
        given, receives per row its kind ("new", "duplicate" or the invalid kind) and the person."""
        rng = self.rng
        _UNENCODABLE.clear()
        total = sum(n for _, _, n in files)
        n_dup = round(total * DUPLICATE_SHARE)
        n_bad = round(total * INVALID_SHARE)
        # 0 new person, 1 duplicate, 2 invalid, in a shuffled order; a duplicate needs someone before it.
        plan = bytearray([0]) * (total - n_dup - n_bad) + bytearray([1]) * n_dup + bytearray([2]) * n_bad
        rng.shuffle(plan)
        first_new = plan.index(0)
        for i in range(first_new):
            if plan[i] == 1:
                plan[i], plan[first_new] = 0, 1
                first_new = plan.index(0, i + 1)
        per_file: list[dict[str, Any]] = []
        position = 0
        started = time.perf_counter()
        for index, (path, encoding, rows) in enumerate(files):
            counts = Counter[str]()
            errors = "danhba_bench_cp1258" if encoding == "cp1258" else "strict"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with open(tmp, "w", encoding=encoding, errors=errors, newline="") as fh:
                writer = csv.writer(fh)  # Excel's dialect: commas, CRLF, quotes only where needed
                writer.writerow(HEADERS)
                for _ in range(rows):
                    what = plan[position]
                    position += 1
                    known: Known | None = None
                    if what == 0:
                        known, row = self.new_person(index)
                        self.seen += 1
                        if len(self.known) < RESERVOIR:
                            self.known.append(known)
                        else:
                            slot = rng.randrange(self.seen)
                            if slot < RESERVOIR:
                                self.known[slot] = known
                        counts["unique_people"] += 1
                        kind = "new"
                    elif what == 1:
                        known, row = self.duplicate(index)
                        counts["duplicates"] += 1
                        kind = "duplicate"
                    else:
                        kind = INVALID_KINDS[counts["invalid"] % len(INVALID_KINDS)]
                        row, loads = self.invalid(index, kind)
                        counts["invalid"] += 1
                        counts["invalid_loaded"] += loads
                    if truth is not None:
                        truth.append((kind, known))
                    writer.writerow(row)
                    if position % 100_000 == 0:
                        say(f"generated {position:,}/{total:,} rows ({time.perf_counter() - started:.0f} s)")
            tmp.replace(path)
            per_file.append(
                {"file": path.name, "encoding": encoding, "bom": encoding == "utf-8-sig", "rows": rows,
                 "bytes": path.stat().st_size, **counts}
            )  # fmt: skip
        totals = {
            k: sum(f.get(k, 0) for f in per_file) for k in ("unique_people", "duplicates", "invalid", "invalid_loaded")
        }
        return {
            "rows": total,
            **totals,
            "files": per_file,
            "detail": {k: dict(sorted(v.items())) for k, v in self.stats.items()},
            "unencodable_in_cp1258": dict(_UNENCODABLE),
        }


def fingerprint() -> str:
    """Changes when the name lists or province tables the generator draws from change."""
    from danhba.contacts import demo
    from danhba.core import vn

    text = repr(
        (demo.FAMILY_NAMES, demo.MIDDLE_MALE, demo.MIDDLE_FEMALE, demo.GIVEN_MALE, demo.GIVEN_FEMALE,
         demo.MOBILE_PREFIXES, demo.OLD_PREFIX_OF, demo.TAGS, demo.COMPANY_KINDS, demo.COMPANY_SECTORS,
         demo.BRAND_SYLLABLES, vn.PROVINCES, vn.PROVINCES_BEFORE_2025)
    )  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dataset_files(data_dir: Path, rows: int) -> list[tuple[Path, str, int]]:
    utf8_rows = round(rows * UTF8_SHARE)
    return [
        (data_dir / f"import-{rows}-utf8.csv", "utf-8-sig", utf8_rows),
        (data_dir / f"import-{rows}-cp1258.csv", "cp1258", rows - utf8_rows),
    ]


def ensure_dataset(args: argparse.Namespace, data_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    files = dataset_files(data_dir, args.rows)
    meta_path = data_dir / f"import-{args.rows}.meta.json"
    wanted = {
        "generator_version": GENERATOR_VERSION,
        "seed": args.seed,
        "rows": args.rows,
        "fingerprint": fingerprint(),
    }
    if args.keep and meta_path.exists() and all(p.exists() for p, _, _ in files):
        meta = json.loads(meta_path.read_text())
        sizes_match = all(f["bytes"] == p.stat().st_size for f, (p, _, _) in zip(meta["files"], files, strict=True))
        if all(meta.get(k) == v for k, v in wanted.items()) and sizes_match:
            say(f"reusing the generated files ({args.rows:,} rows)")
            return {**meta, "reused": True}
    say(f"generating {args.rows:,} rows (seed {args.seed})")
    started = time.perf_counter()
    contents = MessyCsv(args.seed).write(files, say)
    meta = {**wanted, **contents, "generation_seconds": round(time.perf_counter() - started, 1)}
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return {**meta, "reused": False}


# --- running children --------------------------------------------------------------------------


@dataclass
class ChildRun:
    returncode: int
    seconds: float
    cpu_seconds: float  # user + system of the process and its children: what the run cost
    peak_rss_mib: float  # the largest single process (wait4's ru_maxrss: exact)
    peak_tree_rss_mib: float  # the command and all its processes together (sampled; 0 off Linux)
    stdout: str
    stderr: str

    @property
    def peak_mib(self) -> float:
        return max(self.peak_rss_mib, self.peak_tree_rss_mib)


# A forked child starts with its parent's peak RSS (Linux keeps the high-water mark across exec), so
# the measured command is started by this small launcher rather than by the benchmark process, which
# holds Django and the generator: the launcher waits for it and writes its exit code, ``ru_maxrss``
# (the largest of the command and the children it waited for), wall time and CPU time.
_LAUNCHER = (
    "import json, os, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "t = time.perf_counter() - t\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss, t, usage.ru_utime + usage.ru_stime], f)\n"
)
SAMPLE_SECONDS = 0.2


def _tree_rss_kib(root: int) -> int:
    """The summed RSS of ``root``'s descendants (not ``root`` itself: the launcher), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid …": comm may hold spaces and parentheses.
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family = {root}
    grown = True
    while grown:
        grown = False
        for pid, ppid in parents.items():
            if ppid in family and pid not in family:
                family.add(pid)
                grown = True
    total = 0
    for pid in family - {root}:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def run_child(cmd: list[str], env: dict[str, str], log_dir: Path, label: str) -> ChildRun:
    """Run ``cmd`` with its wall clock, CPU time and memory: the largest process's peak RSS from
    ``wait4``, and the whole process tree's RSS (the command may start worker processes) sampled
    every 0.2 s."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path, usage_path = (log_dir / f"{label}.{ext}" for ext in ("stdout", "stderr", "usage"))
    usage_path.unlink(missing_ok=True)
    sample = sys.platform.startswith("linux")
    tree_peak = 0
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        launcher = [sys.executable, "-S", "-c", _LAUNCHER, str(usage_path), *cmd]
        proc = subprocess.Popen(launcher, cwd=REPO_DIR, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        while True:
            try:
                code = proc.wait(timeout=SAMPLE_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if sample:
                    tree_peak = max(tree_peak, _tree_rss_kib(proc.pid))
    stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    if code or not usage_path.exists():
        return ChildRun(code or 1, 0.0, 0.0, 0.0, 0.0, stdout, stderr)
    returncode, maxrss, seconds, cpu_seconds = json.loads(usage_path.read_text())
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    peak_mib = maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return ChildRun(returncode, seconds, cpu_seconds, peak_mib, tree_peak / 1024, stdout, stderr)


def baseline_child(db: Path, files: list[tuple[Path, str]]) -> dict[str, Any]:
    """The raw baseline, run inside the child: stdlib csv → sqlite3 executemany, no normalisation."""
    db.unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    columns = ("full_name", "email", "phone", "birthday", "gender", "address", "province", "company", "job_title",
               "tags", "note")  # fmt: skip
    conn.execute(f"CREATE TABLE contacts (id INTEGER PRIMARY KEY, {', '.join(c + ' TEXT' for c in columns)})")
    conn.execute("CREATE UNIQUE INDEX contacts_email ON contacts (email)")
    sql = f"INSERT OR IGNORE INTO contacts ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
    width = len(columns)
    per_file = []
    for path, encoding in files:
        started = time.perf_counter()
        read = 0

        def rows(fh: Any) -> Iterator[list[str | None]]:
            nonlocal read
            reader = csv.reader(fh)
            next(reader)
            for row in reader:
                read += 1
                row = (row + [""] * width)[:width]
                # An empty email is no email: without NULL the unique index would keep one such row.
                yield [row[0], row[1] or None, *row[2:]]

        with open(path, encoding=encoding, newline="") as fh, conn:
            conn.executemany(sql, rows(fh))
        per_file.append({"file": path.name, "rows": read, "seconds": round(time.perf_counter() - started, 3)})
    stored = conn.execute("SELECT COUNT(*) FROM contacts").fetchone()[0]
    conn.close()
    return {"files": per_file, "rows_stored": stored}


def run_baseline(
    data_dir: Path, files: list[tuple[Path, str, int]], keep: bool, say: Callable[[str], None]
) -> dict[str, Any]:
    db = data_dir / f"import-baseline-{sum(n for _, _, n in files)}.sqlite3"
    cmd = [sys.executable, "-m", "bench.import_bench", "_baseline", str(db)]
    for path, encoding, _ in files:
        cmd += [str(path), encoding]
    say("baseline: csv → sqlite3 executemany")
    run = run_child(cmd, dict(os.environ), data_dir / "import-logs", "baseline")
    if run.returncode:
        raise SystemExit(f"the baseline failed ({run.returncode}):\n{run.stderr[-3000:]}")
    detail = json.loads(run.stdout.strip().splitlines()[-1])
    if not keep:
        db.unlink(missing_ok=True)
    rows = sum(f["rows"] for f in detail["files"])
    return {
        "seconds": round(run.seconds, 3),
        "cpu_seconds": round(run.cpu_seconds, 3),
        "rows": rows,
        "rows_per_s": round(rows / run.seconds),
        "peak_rss_mib": round(run.peak_mib, 1),
        "peak_process_rss_mib": round(run.peak_rss_mib, 1),
        **detail,
    }


# --- danhba --------------------------------------------------------------------------------------


def reset_database(target: Target) -> None:
    if target.sqlite_path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target.sqlite_path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(target.url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def danhba_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "danhba.cli", *args]


def last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            return value if isinstance(value, dict) else None
    return None


def run_danhba(
    args: argparse.Namespace,
    target: Target,
    data_dir: Path,
    files: list[tuple[Path, str, int]],
    say: Callable[[str], None],
) -> dict[str, Any]:
    env = child_env(target)
    logs = data_dir / "import-logs"
    target.var_dir.mkdir(parents=True, exist_ok=True)
    reset_database(target)
    say("danhba: migrating a fresh database")
    if COPY_MIGRATED and target.sqlite_path is not None:
        from danhba.core.tests.live import site_migrate

        started = time.perf_counter()
        site_migrate(env)
        migrate = ChildRun(0, time.perf_counter() - started, 0.0, 0.0, 0.0, "", "")
    else:
        migrate = run_child(danhba_cmd("migrate", "--no-input"), env, logs, "migrate")
    if migrate.returncode:
        raise SystemExit(f"danhba migrate failed ({migrate.returncode}):\n{migrate.stderr[-3000:]}")
    mapping = data_dir / "import-mapping.json"
    mapping.write_text(json.dumps(MAPPING, ensure_ascii=False, indent=2) + "\n")
    per_file: list[dict[str, Any]] = []
    for index, (path, encoding, rows) in enumerate(files):
        # A customer list: held to perform the contracts with those customers (with the default legal
        # basis, consent, danhba asks which purposes were consented to or where the proof is).
        cmd = danhba_cmd(
            "import", str(path), "--source", "import", "--legal-basis", "contract", "--mapping", str(mapping),
            "--no-progress", "--json",
        )  # fmt: skip
        if args.explicit_encoding:
            cmd += ["--encoding", encoding]
        say(f"danhba import {path.name} ({rows:,} rows, {encoding})")
        code = code_version()
        run = run_child(cmd, env, logs, f"danhba-{index + 1}")
        if run.returncode:
            raise SystemExit(
                f"danhba import {path.name} failed ({run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
            )
        summary = last_json(run.stdout)
        if summary is None:
            raise SystemExit(f"danhba import {path.name} printed no JSON summary:\n{run.stdout[-2000:]}")
        say(f"  {run.seconds:.1f} s, peak RSS {run.peak_mib:.0f} MiB: {summary}")
        per_file.append(
            {"file": path.name, "encoding": encoding, "rows": rows, "seconds": round(run.seconds, 3),
             "cpu_seconds": round(run.cpu_seconds, 3), "rows_per_s": round(rows / run.seconds),
             "peak_rss_mib": round(run.peak_mib, 1), "peak_process_rss_mib": round(run.peak_rss_mib, 1),
             "peak_tree_rss_mib": round(run.peak_tree_rss_mib, 1), "code": code, "summary": summary}
        )  # fmt: skip
    seconds = sum(f["seconds"] for f in per_file)
    rows = sum(f["rows"] for f in per_file)
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(sum(f["cpu_seconds"] for f in per_file), 3),
        "rows": rows,
        "rows_per_s": round(rows / seconds),
        "peak_rss_mib": max(f["peak_rss_mib"] for f in per_file),
        "migrate_seconds": round(migrate.seconds, 2),
        # True when src/ changed between the imports: the figures then mix two versions of the code.
        "code_changed_during_run": len({f["code"]["src_digest"] for f in per_file}) > 1,
        "files": per_file,
        "summary": summed([f["summary"] for f in per_file]),
    }


def summed(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in summaries:
        for key, value in s.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and key != "import_id":
                out[key] = round(out.get(key, 0) + value, 3)
    return out


def database_checks(target: Target) -> dict[str, Any]:
    """What the database holds after the imports: contacts, and rows in the error report."""
    queries = {
        "contacts": "SELECT COUNT(*) FROM contacts_contact",
        "contact_emails": "SELECT COUNT(*) FROM contacts_contactemail",
        "contact_phones": "SELECT COUNT(*) FROM contacts_contactphone",
        "import_issues": "SELECT COUNT(*) FROM ingest_importissue",
    }
    out: dict[str, Any] = {}
    if target.sqlite_path is not None:
        conn: Any = sqlite3.connect(f"file:{target.sqlite_path}?mode=ro", uri=True)
        errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    else:
        import psycopg

        conn = psycopg.connect(target.url, autocommit=True)
        errors = (psycopg.Error,)
    try:
        for key, sql in queries.items():
            try:
                out[key] = conn.execute(sql).fetchone()[0]
            except errors as exc:
                out[key] = f"unavailable: {exc}"
    finally:
        conn.close()
    if target.sqlite_path is not None:
        out["database_bytes"] = sum(
            Path(f"{target.sqlite_path}{s}").stat().st_size
            for s in ("", "-wal")
            if Path(f"{target.sqlite_path}{s}").exists()
        )
    return out


# --- the run -------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if argv[:1] == ["_baseline"]:
        db, rest = Path(argv[1]), argv[2:]
        result = baseline_child(db, [(Path(rest[i]), rest[i + 1]) for i in range(0, len(rest), 2)])
        print(json.dumps(result))
        return 0
    args = parse_args(argv)
    from rich.console import Console

    console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 130)

    def say(message: str) -> None:
        console.log(message)

    data_dir = Path(args.data_dir).resolve() if args.data_dir else DATA_DIR
    data_dir.mkdir(parents=True, exist_ok=True)
    target = resolve_target(args, data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "danhba.settings")
    os.environ["DATABASE_URL"] = target.url
    os.environ["DANHBA_VAR_DIR"] = str(target.var_dir)
    target.var_dir.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()
    dataset = ensure_dataset(args, data_dir, say)
    files = dataset_files(data_dir, args.rows)
    baseline = run_baseline(data_dir, files, args.keep, say)
    say(f"baseline: {baseline['seconds']:.1f} s, {baseline['rows_per_s']:,} rows/s")
    danhba = None if args.baseline_only else run_danhba(args, target, data_dir, files, say)
    checks = database_checks(target) if danhba else {}
    result = report(args, target, dataset, baseline, danhba, checks)
    # The PostgreSQL run is kept beside the SQLite one: import-postgresql.json.
    name = NAME if target.vendor == "sqlite" else f"{NAME}-{target.vendor}"
    path = write_results(name, result, Path(args.out) if args.out else None)
    print_table(result, console)
    console.print(f"wrote {path}")
    if not args.keep:
        if target.sqlite_path is not None:
            reset_database(target)
        for p, _, _ in files:
            p.unlink(missing_ok=True)
        (data_dir / f"import-{args.rows}.meta.json").unlink(missing_ok=True)
    return 0


def report(
    args: argparse.Namespace,
    target: Target,
    dataset: dict[str, Any],
    baseline: dict[str, Any],
    danhba: dict[str, Any] | None,
    checks: dict[str, Any],
) -> dict[str, Any]:
    loaded = dataset["invalid_loaded"]
    expected = {
        # If a row with one unrepairable value loads without it while it keeps a valid email or
        # phone, the others are rejected, and every later row for a known person (same email or
        # same phone) is merged into that person:
        "contacts": dataset["unique_people"] + loaded,
        "created": dataset["unique_people"] + loaded,
        "merged_or_updated": dataset["duplicates"],
        "rejected": dataset["invalid"] - loaded,
    }
    result: dict[str, Any] = {
        "target": {
            "seconds": TARGET_SECONDS,
            "ratio_to_baseline": TARGET_RATIO,
            "peak_rss_mib": TARGET_RSS_MIB,
            "row": "import: 1M-row messy CSV → normalised, validated, upserted contacts + error report",
        },
        "machine": machine_info(),
        "code": code_version(),
        "database": {"vendor": target.vendor, "baseline_vendor": "sqlite"},
        "dataset": {
            "rows": args.rows,
            "seed": args.seed,
            "generator_version": GENERATOR_VERSION,
            "unique_people": dataset["unique_people"],
            "duplicates": dataset["duplicates"],
            "invalid": dataset["invalid"],
            "invalid_loaded": dataset["invalid_loaded"],
            "files": dataset["files"],
            "detail": dataset["detail"],
            "unencodable_in_cp1258": dataset.get("unencodable_in_cp1258", {}),
            "generation_seconds": dataset.get("generation_seconds"),
            "reused": dataset.get("reused", False),
        },
        "baseline": baseline,
        "expected": expected,
    }
    if danhba is None:
        result["danhba"] = None
        result["meets_target"] = None
        return result
    ratio = danhba["seconds"] / baseline["seconds"]
    meets = {
        "seconds": danhba["seconds"] <= TARGET_SECONDS,
        "ratio_to_baseline": ratio <= TARGET_RATIO,
        "peak_rss_mib": danhba["peak_rss_mib"] <= TARGET_RSS_MIB,
    }
    result.update(
        danhba=danhba,
        ratio=round(ratio, 2),
        # The same ratio in CPU time: steadier than wall time on a machine other work shares.
        cpu_ratio=round(danhba["cpu_seconds"] / baseline["cpu_seconds"], 2) if baseline["cpu_seconds"] else None,
        checks=checks,
        meets=meets,
        meets_target=all(meets.values()),
    )
    if target.vendor == "sqlite":
        result["database"]["size_bytes"] = checks.get("database_bytes")
    return result


def code_version() -> dict[str, Any]:
    """The commit measured, whether src/ had uncommitted changes, and a digest of the Python source
    under src/ (two imports in one run with different digests ran different code)."""
    digest = hashlib.sha256()
    for path in sorted((REPO_DIR / "src").rglob("*.py")):
        digest.update(str(path.relative_to(REPO_DIR)).encode() + b"\0" + path.read_bytes())
    out: dict[str, Any] = {"src_digest": digest.hexdigest()[:16]}
    git = shutil.which("git")
    if git is None:
        return out
    try:
        run = functools.partial(subprocess.run, cwd=REPO_DIR, capture_output=True, text=True, timeout=10, check=True)
        out["commit"] = run([git, "rev-parse", "HEAD"]).stdout.strip()
        out["uncommitted_changes_in_src"] = bool(run([git, "status", "--porcelain", "src"]).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def print_table(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    ds = result["dataset"]
    title = (
        f"import: {ds['rows']:,} rows in {len(ds['files'])} files "
        f"({ds['unique_people']:,} people, {ds['duplicates']:,} duplicates, {ds['invalid']:,} invalid) "
        f"on {result['database']['vendor']}"
    )
    table = Table(title=title)
    for col in ("", "seconds", "CPU seconds", "rows/s", "peak RSS MiB", "target", "result"):
        table.add_column(col, justify="left" if col == "" else "right")

    def row(label: str, r: dict[str, Any], target: str = "", flag: bool | None = None) -> None:
        verdict = "" if flag is None else "[green]ok[/green]" if flag else "[red]missed[/red]"
        table.add_row(
            label, f"{r['seconds']:.1f}", f"{r['cpu_seconds']:.1f}", f"{r['rows_per_s']:,}",
            f"{r['peak_rss_mib']:.0f}", target, verdict,
        )  # fmt: skip

    base, dan = result["baseline"], result.get("danhba")
    row("baseline", base)
    if dan:
        meets = result["meets"]
        for f in dan["files"]:
            row(f"  danhba {f['file']}", f)
        row("danhba", dan, f"≤ {TARGET_SECONDS:.0f} s", meets["seconds"])

        def verdict(flag: bool) -> str:
            return "[green]ok[/green]" if flag else "[red]missed[/red]"

        table.add_row("ratio", f"{result['ratio']}×", f"{result['cpu_ratio']}×", "", "", f"≤ {TARGET_RATIO:.0f}×",
                      verdict(meets["ratio_to_baseline"]))  # fmt: skip
        table.add_row("peak RSS", "", "", "", f"{dan['peak_rss_mib']:.0f}", f"≤ {TARGET_RSS_MIB:.0f} MiB",
                      verdict(meets["peak_rss_mib"]))  # fmt: skip
    console.print(table)
    if dan and dan.get("code_changed_during_run"):
        console.print("[yellow]the source under src/ changed between the imports: the figures mix two versions[/]")
    if dan:
        exp, s, chk = result["expected"], dan["summary"], result["checks"]
        console.print(
            f"import summary: {s} | database: {chk.get('contacts')} contacts, "
            f"{chk.get('import_issues')} issues | expected if only the invalid rows without an email or phone left "
            "are rejected: "
            f"{exp['created']:,} created, {exp['merged_or_updated']:,} merged/updated, {exp['rejected']:,} rejected"
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
