"""A realistic Vietnamese demo dataset, loaded in seconds.

:class:`PeopleGenerator` draws people and companies from a fixed seed (Faker ``vi_VN`` plus
weighted Vietnamese name lists: a third of Vietnamese people are called Nguyễn). The rows are
what the services would store — NFC text, names split by :func:`~danhba.core.normalize.split_name`,
lower-case emails, E.164 phones — and the same generator feeds the ``bench/`` data.

:func:`demo_contacts_load`, the contacts part of ``danhba demo`` (``core/demo.py``), writes
them through the contacts' bulk writer (``contacts/writer.py``), which derives ``name_key``,
the primary ``email``/``phone`` and the search keys as for every other contact write, in a few
multi-row statements per batch (3,000 contacts in a few seconds rather than a minute).
Consent, orders, events and segments are the other apps' parts.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from danhba.accounts.models import Role, Team, User
from danhba.contacts.keys import company_key, tag_key
from danhba.contacts.models import (
    BuyerRole,
    Company,
    Contact,
    ContactEmail,
    ExternalId,
    LifecycleStage,
    Source,
    Tag,
)
from danhba.contacts.writer import ContactWriter, Entry, NewContact
from danhba.core.actor import Actor
from danhba.core.demo import SEED as DEMO_SEED
from danhba.core.demo import DemoRun
from danhba.core.normalize import (
    OLD_MOBILE_PREFIXES,
    clean_text,
    fold,
    name_case,
    normalize_email,
    normalize_phone,
    split_name,
)
from danhba.core.vn import PROVINCE_NAMES, PROVINCES

SEED = DEMO_SEED
BATCH = 500
# Reserved example domains (RFC 2606): a campaign sent to demo contacts reaches nobody.
FREE_MAIL = (("example.com", 6), ("example.net", 3), ("example.org", 1))

# Family names with their approximate share of the population.
FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 31), ("Trần", 11), ("Lê", 9.5), ("Phạm", 7), ("Hoàng", 3), ("Huỳnh", 2.5), ("Phan", 4.5),
    ("Vũ", 2), ("Võ", 2), ("Đặng", 2.1), ("Bùi", 2), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1),
    ("Lý", 0.5), ("Đinh", 0.5), ("Trương", 0.5), ("Lâm", 0.4), ("Mai", 0.4), ("Đoàn", 0.4), ("Trịnh", 0.4),
    ("Lương", 0.3), ("Cao", 0.3), ("Hà", 0.3), ("Tạ", 0.2), ("Châu", 0.2), ("Tô", 0.2), ("Quách", 0.1),
    ("Kiều", 0.1), ("La", 0.1), ("Thái", 0.2), ("Văn", 0.1), ("Lưu", 0.2),
)  # fmt: skip
MIDDLE_MALE = (
    "Văn", "Văn", "Văn", "Đức", "Minh", "Quang", "Hữu", "Công", "Thành", "Xuân", "Ngọc", "Anh", "Tuấn",
    "Gia", "Hoàng", "Thanh", "Trọng", "Quốc", "Đình", "Bá", "Tiến", "Mạnh", "Duy", "Hải", "Thế", "Tấn",
)  # fmt: skip
MIDDLE_FEMALE = (
    "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Phương", "Minh", "Bảo", "Kim", "Hồng", "Mai", "Diệu",
    "Khánh", "Thùy", "Quỳnh", "Hoài", "Tuyết", "Thị Thu", "Thị Ngọc", "Thị Thanh", "Thị Kim", "Hải",
)  # fmt: skip
GIVEN_MALE = (
    "An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đức", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy",
    "Khang", "Khánh", "Khoa", "Kiên", "Lâm", "Long", "Lộc", "Minh", "Nam", "Nghĩa", "Nhân", "Phát", "Phong",
    "Phúc", "Quân", "Quang", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thịnh", "Toàn", "Trí", "Trung", "Tú",
    "Tuấn", "Tùng", "Việt", "Vinh", "Vũ", "Hưng", "Châu", "Nhiên", "Trọng", "Hậu", "Lợi", "Thái", "Khải",
)  # fmt: skip
GIVEN_FEMALE = (
    "Anh", "Ánh", "Chi", "Diệp", "Dung", "Duyên", "Giang", "Hà", "Hằng", "Hạnh", "Hiền", "Hoa", "Hồng",
    "Huyền", "Hương", "Lan", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhi", "Nhung", "Oanh",
    "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo", "Thơ", "Thu", "Thủy", "Trang", "Trâm", "Tuyết", "Uyên",
    "Vân", "Vy", "Xuân", "Yến", "Hạnh", "Kim", "Lụa", "Nguyệt", "Hiên", "Thư",
)  # fmt: skip
# Current mobile prefixes after the 2018 renumbering (Viettel, VinaPhone, MobiFone, Vietnamobile,
# Gmobile, iTel), weighted roughly by market share through repetition.
MOBILE_PREFIXES = (
    "032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
    "032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
    "081", "082", "083", "084", "085", "088", "091", "094", "081", "083", "088", "091", "094",
    "070", "076", "077", "078", "079", "090", "093", "090", "093", "056", "058", "092", "059", "087",
)  # fmt: skip
OLD_PREFIX_OF = {new: old for old, new in OLD_MOBILE_PREFIXES.items()}
PROVINCE_WEIGHTS = {"ha-noi": 18, "ho-chi-minh": 22, "hai-phong": 5, "da-nang": 4, "can-tho": 3, "hue": 2}
TAGS: tuple[tuple[str, str, float], ...] = (
    # name, colour, share of contacts
    ("VIP", "#b91c1c", 0.05),
    ("Khách sỉ", "#1d4ed8", 0.08),
    ("Khách lẻ", "#0f766e", 0.30),
    ("Đã mua 2+ lần", "#7c3aed", 0.15),
    ("Hội thảo 2025", "#c2410c", 0.06),
    ("Bản tin", "#64748b", 0.20),
    ("Khách cũ", "#475569", 0.05),
    ("Đại lý", "#047857", 0.03),
)
STAGE_WEIGHTS = {
    "subscriber": 15, "lead": 30, "mql": 12, "sql": 8, "opportunity": 7, "customer": 23, "evangelist": 5,
}  # fmt: skip
SOURCE_WEIGHTS = {
    Source.ORDER: 20, Source.REGISTRATION: 15, Source.FORM: 15, Source.IMPORT: 15, Source.QUESTIONNAIRE: 5,
    Source.CONTEST: 4, Source.COMPLAINT: 4, Source.LOYALTY: 6, Source.WARRANTY: 4, Source.SUBSCRIPTION: 6,
    Source.REVIEW: 3, Source.OTHER: 3,
}  # fmt: skip
EDUCATION = ("Trung học phổ thông", "Trung cấp", "Cao đẳng", "Đại học", "Đại học", "Thạc sĩ", "Tiến sĩ")
INCOME_BANDS = ("Dưới 10 triệu/tháng", "10–20 triệu/tháng", "20–40 triệu/tháng", "Trên 40 triệu/tháng")
FAMILY_TEXT = ("Độc thân", "Đã kết hôn", "Đã kết hôn, 1 con", "Đã kết hôn, 2 con", "Sống cùng bố mẹ")
HOBBIES = ("Du lịch", "Đọc sách", "Nấu ăn", "Chạy bộ", "Cầu lông", "Bóng đá", "Yoga", "Chụp ảnh", "Làm vườn")
PREFERENCES = (
    "Thích được liên hệ qua Zalo",
    "Chỉ gọi giờ hành chính",
    "Ưa chuộng hàng chính hãng",
    "Quan tâm khuyến mãi cuối tuần",
    "Muốn nhận hóa đơn VAT",
)
MOTIVATIONS = (
    "Tiết kiệm chi phí",
    "Chất lượng ổn định",
    "Giao hàng nhanh",
    "Dịch vụ hậu mãi tốt",
    "Thương hiệu uy tín",
)
COMPANY_KINDS = (
    "Công ty TNHH",
    "Công ty TNHH",
    "Công ty Cổ phần",
    "Công ty Cổ phần",
    "Công ty TNHH MTV",
    "Doanh nghiệp tư nhân",
)
COMPANY_SECTORS = (
    ("Thương mại", "Bán buôn, bán lẻ"), ("Thương mại và Dịch vụ", "Bán buôn, bán lẻ"), ("Xây dựng", "Xây dựng"),
    ("Công nghệ", "Công nghệ thông tin"), ("Thực phẩm", "Thực phẩm và đồ uống"), ("Dược phẩm", "Y tế"),
    ("Vận tải", "Vận tải, kho bãi"), ("Du lịch", "Du lịch, khách sạn"), ("Nội thất", "Sản xuất"),
    ("Xuất nhập khẩu", "Xuất nhập khẩu"), ("Giáo dục", "Giáo dục"), ("Điện tử", "Sản xuất"),
    ("May mặc", "Dệt may"), ("Nông sản", "Nông nghiệp"), ("Bất động sản", "Bất động sản"),
)  # fmt: skip
BRAND_SYLLABLES = (
    "Minh", "Phát", "Hoàng", "Long", "Sao", "Việt", "Thành", "Công", "Đại", "Tín", "An", "Bình", "Phú", "Hưng",
    "Thịnh", "Vượng", "Tân", "Á", "Châu", "Kim", "Ngọc", "Hòa", "Nam", "Bắc", "Đông", "Hải", "Sơn", "Trường",
    "Gia", "Phúc", "Lộc", "Quang", "Huy", "Tiến", "Đạt", "Nhật", "Hồng", "Mỹ", "Thái", "Khang",
)  # fmt: skip
COMPANY_SIZES = ("1–10", "11–50", "51–200", "201–500", "500+")
TAX_PREFIX = {"ha-noi": "01", "ho-chi-minh": "03", "hai-phong": "02", "da-nang": "04", "can-tho": "18"}
LANDLINE_AREA = {"ha-noi": "24", "ho-chi-minh": "28", "hai-phong": "225", "da-nang": "236", "can-tho": "292"}
PRODUCTS = ("máy lọc nước", "nồi chiên không dầu", "gói bảo trì", "phần mềm bán hàng", "combo mỹ phẩm",
            "bàn làm việc", "máy lọc không khí", "gói cước doanh nghiệp", "khóa học tiếng Anh", "điều hòa")  # fmt: skip
TIMELINE_TEXT: dict[str, tuple[tuple[str, str], ...]] = {
    "note": (
        ("Khách quan tâm {p}", "Khách hỏi về {p}, hẹn gọi lại vào tuần sau."),
        ("Ghi chú sau cuộc gặp", "Khách muốn so sánh giá với bên khác trước khi quyết định mua {p}."),
        ("Cập nhật thông tin", "Khách đổi địa chỉ giao hàng, đã cập nhật."),
    ),
    "call": (
        ("Gọi tư vấn {p}", "Đã gọi tư vấn {p}; khách hỏi giá sỉ cho 20 sản phẩm."),
        ("Gọi chăm sóc sau bán", "Khách hài lòng với {p}, đề nghị giới thiệu thêm bạn bè."),
        ("Cuộc gọi nhỡ", "Gọi lại hai lần không nghe máy."),
    ),
    "complaint": (
        ("Giao hàng trễ", "Đơn {p} giao trễ 3 ngày so với hẹn, khách không hài lòng."),
        ("Sản phẩm lỗi", "Khách báo {p} bị lỗi khi nhận hàng, yêu cầu đổi mới."),
        ("Thái độ nhân viên", "Khách phàn nàn nhân viên cửa hàng trả lời chậm."),
    ),
    "question": (
        ("Hỏi chính sách đổi trả", "Khách hỏi có được đổi {p} trong 30 ngày không."),
        ("Hỏi thời gian bảo hành", "Khách hỏi {p} được bảo hành bao lâu."),
        ("Hỏi về hóa đơn VAT", "Khách cần xuất hóa đơn VAT cho công ty."),
    ),
    "review": (
        ("Đánh giá 5 sao", "Sản phẩm tốt, giao hàng nhanh, đóng gói cẩn thận."),
        ("Đánh giá 4 sao", "{p} dùng ổn, giá hơi cao so với mặt bằng chung."),
        ("Đánh giá 2 sao", "Giao hàng chậm, nhân viên hỗ trợ nhiệt tình nhưng sản phẩm chưa như mô tả."),
    ),
    "meeting": (("Gặp trực tiếp tại văn phòng", "Trao đổi nhu cầu mua {p} cho chi nhánh mới."),),
    "chat": (("Chat qua Zalo", "Khách nhắn hỏi còn hàng {p} không, đã báo còn."),),
}
TIMELINE_KINDS = (("note", 30), ("call", 25), ("question", 15), ("complaint", 10), ("review", 10),
                  ("meeting", 5), ("chat", 5))  # fmt: skip
TIMELINE_CHANNELS = {
    "note": ("", "in_person", "phone"), "call": ("phone",),
    "complaint": ("phone", "email", "zalo", "facebook", "store"),
    "question": ("zalo", "facebook", "website", "email", "phone"), "review": ("website", "facebook", "store"),
    "meeting": ("in_person",), "chat": ("zalo", "facebook", "website"),
}  # fmt: skip
DEMO_USERS = (
    # email local part, role, full name
    ("marketing", "marketing", "Trần Thu Hà"),
    ("sales1", "sales", "Lê Minh Tuấn"),
    ("sales2", "sales", "Phạm Thị Lan"),
    ("support", "support", "Võ Thanh Tâm"),
    ("analyst", "analyst", "Đỗ Quang Huy"),
)
DEMO_DOMAIN = "example.com"


@dataclass
class PhoneRow:
    raw: str
    e164: str
    kind: str = "mobile"


@dataclass
class Person:
    """One generated contact, already in the shape the services store."""

    full_name: str
    family_name: str
    middle_name: str
    given_name: str
    gender: str
    birthday: dt.date | None
    emails: list[str]
    phones: list[PhoneRow]
    province: str
    ward: str
    street: str
    occupation: str
    job_title: str
    education: str
    income_band: str
    source: str
    stage: str
    tags: list[str]
    created_at: dt.datetime
    company: int | None = None  # index into the generator's companies
    extras: dict[str, str] = field(default_factory=dict)


@dataclass
class CompanyRow:
    name: str
    tax_code: str
    domain: str
    industry: str
    size: str
    province: str
    ward: str
    street: str
    phone: str


class PeopleGenerator:
    """Deterministic Vietnamese people and companies: the same seed gives the same rows."""

    def __init__(self, seed: int = SEED, now: dt.datetime | None = None, n_companies: int = 150) -> None:
        # Faker is the [demo] extra: imported only when demo or benchmark data is made.
        from faker import Faker
        from faker.providers.person.vi_VN import Provider as ViPersonProvider

        self.fake = Faker("vi_VN")
        self.fake.seed_instance(seed)
        self.rng = self.fake.random
        self.now = now or timezone.now()
        self.emails_taken: set[str] = set()
        self.phones_taken: set[str] = set()
        self.tax_codes_taken: set[str] = set()
        self.company_names_taken: set[str] = set()
        # Faker's own vi_VN lists widen ours; pools keep per-row cost at a few random draws.
        self.given_male = tuple(dict.fromkeys((*GIVEN_MALE, *ViPersonProvider.first_names_male)))
        self.given_female = tuple(dict.fromkeys((*GIVEN_FEMALE, *ViPersonProvider.first_names_female)))
        self.family_names = [n for n, _ in FAMILY_NAMES]
        self.family_weights = [w for _, w in FAMILY_NAMES]
        self.streets = [clean_text(self.fake.street_address()) for _ in range(2000)]
        self.wards = sorted(
            {f"{self.rng.choice(('Phường', 'Xã'))} {clean_text(self.fake.commune_name())}" for _ in range(300)}
        )
        self.jobs = sorted({clean_text(self.fake.job()) for _ in range(400)})
        self.provinces = [key for key, _ in PROVINCES]
        self.province_weights = [PROVINCE_WEIGHTS.get(key, 1.5) for key in self.provinces]
        self.stages = list(STAGE_WEIGHTS)
        self.stage_weights = list(STAGE_WEIGHTS.values())
        self.sources = [str(s) for s in SOURCE_WEIGHTS]
        self.source_weights = list(SOURCE_WEIGHTS.values())
        self.companies = [self._company() for _ in range(n_companies)]

    # --- companies ------------------------------------------------------------------------

    def _company(self) -> CompanyRow:
        rng = self.rng
        while True:
            brand = " ".join(rng.sample(BRAND_SYLLABLES, 2))
            sector, industry = rng.choice(COMPANY_SECTORS)
            name = f"{rng.choice(COMPANY_KINDS)} {sector} {brand}"
            if fold(name) not in self.company_names_taken:
                self.company_names_taken.add(fold(name))
                break
        province = rng.choices(self.provinces, self.province_weights)[0]
        while True:
            tax_code = TAX_PREFIX.get(province, f"{rng.randint(5, 63):02d}") + f"{rng.randrange(10**8):08d}"
            if tax_code not in self.tax_codes_taken:
                self.tax_codes_taken.add(tax_code)
                break
        slug = fold(brand).replace(" ", "") + fold(sector).split()[0]
        area = LANDLINE_AREA.get(province, "24")
        digits = 10 - len(area)
        return CompanyRow(
            name=name,
            tax_code=tax_code,
            domain=f"{slug}.example",
            industry=industry,
            size=rng.choice(COMPANY_SIZES),
            province=province,
            ward=rng.choice(self.wards),
            street=rng.choice(self.streets),
            phone=f"+84{area}{rng.randrange(2 * 10 ** (digits - 1), 10**digits)}",
        )

    # --- people ---------------------------------------------------------------------------

    def person(self) -> Person:
        # The draws happen in a fixed order (a seed makes the same people): keep it.
        rng = self.rng
        female = rng.random() < 0.52
        full = self._full_name(female)
        parts = split_name(full)
        created = self.now - dt.timedelta(seconds=rng.randrange(3 * 365 * 86400))
        company = rng.randrange(len(self.companies)) if self.companies and rng.random() < 0.4 else None
        emails = self._emails(parts.family, parts.middle, parts.given, company) if rng.random() < 0.9 else []
        phones = self._phones() if rng.random() < 0.92 or not emails else []
        age_days = rng.randrange(18 * 365, 70 * 365)
        birthday = (self.now - dt.timedelta(days=age_days)).date() if rng.random() < 0.85 else None
        province = rng.choices(self.provinces, self.province_weights)[0] if rng.random() < 0.95 else ""
        tags = [name for name, _, share in TAGS if rng.random() < share]
        occupation = rng.choice(self.jobs) if rng.random() < 0.8 else ""
        extras = self._extras()
        return Person(
            full_name=full,
            family_name=parts.family,
            middle_name=parts.middle,
            given_name=parts.given,
            **self._profile(female, province, company),
            birthday=birthday,
            emails=emails,
            phones=phones,
            province=province,
            occupation=occupation,
            source=rng.choices(self.sources, self.source_weights)[0],
            stage=rng.choices(self.stages, self.stage_weights)[0],
            tags=tags,
            created_at=created,
            company=company,
            extras=extras,
        )

    def _full_name(self, female: bool) -> str:
        rng = self.rng
        family = rng.choices(self.family_names, self.family_weights)[0]
        middle = rng.choice(MIDDLE_FEMALE if female else MIDDLE_MALE) if rng.random() < 0.93 else ""
        given = rng.choice(self.given_female if female else self.given_male)
        if rng.random() < 0.15:
            # Two-word given names are common; the second word stays the given name.
            middle = f"{middle} {rng.choice(self.given_female if female else self.given_male)}".strip()
        full = " ".join(p for p in (family, middle, given) if p)
        if rng.random() < 0.10:
            full = name_case(fold(full))  # typed without diacritics, as people often do
        return name_case(full)

    def _extras(self) -> dict[str, str]:
        rng = self.rng
        extras: dict[str, str] = {}
        if rng.random() < 0.3:
            extras["family"] = rng.choice(FAMILY_TEXT)
        if rng.random() < 0.3:
            extras["hobbies"] = ", ".join(rng.sample(HOBBIES, 2))
        if rng.random() < 0.2:
            extras["preferences"] = rng.choice(PREFERENCES)
        if rng.random() < 0.2:
            extras["motivations"] = rng.choice(MOTIVATIONS)
        return extras

    def _profile(self, female: bool, province: str, company: int | None) -> dict[str, str]:
        rng = self.rng
        job_titles = ("Nhân viên", "Trưởng phòng", "Giám đốc", "Phó giám đốc", "Chủ cửa hàng", "Kế toán")
        return {
            "gender": ("female" if female else "male") if rng.random() < 0.9 else "",
            "ward": rng.choice(self.wards) if province and rng.random() < 0.7 else "",
            "street": rng.choice(self.streets) if province and rng.random() < 0.7 else "",
            "job_title": rng.choice(job_titles) if company is not None else "",
            "education": rng.choice(EDUCATION) if rng.random() < 0.5 else "",
            "income_band": rng.choice(INCOME_BANDS) if rng.random() < 0.4 else "",
        }

    def _emails(self, family: str, middle: str, given: str, company: int | None) -> list[str]:
        rng = self.rng
        f, m, g = fold(family).replace(" ", ""), fold(middle).replace(" ", ""), fold(given).replace(" ", "")
        initials = "".join(w[0] for w in fold(middle).split())
        patterns = (
            f"{g}.{f}{rng.randrange(100)}",
            f"{g}{f}{rng.randrange(60, 100):02d}",
            f"{f}{initials}{g}",
            ".".join(w for w in (f, m, g) if w),
            f"{g}{rng.randrange(1000, 10000)}",
            f"{g}_{f}",
        )
        out = [self._unique_email(rng.choice(patterns).strip(".") or "khach", self._free_mail())]
        if company is not None and rng.random() < 0.5:
            out.append(self._unique_email(f"{g}.{f}" if f else g, self.companies[company].domain))
        elif rng.random() < 0.1:
            out.append(self._unique_email(f"{g}{f}{rng.randrange(10, 99)}", self._free_mail()))
        return out

    def _free_mail(self) -> str:
        return self.rng.choices([d for d, _ in FREE_MAIL], [w for _, w in FREE_MAIL])[0]

    def _unique_email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        while email in self.emails_taken:
            email = f"{local}{self.rng.randrange(10, 100000)}@{domain}"
        self.emails_taken.add(email)
        return email

    def _phones(self) -> list[PhoneRow]:
        out = [self._phone()]
        if self.rng.random() < 0.12:
            out.append(self._phone())
        return out

    def _phone(self) -> PhoneRow:
        rng = self.rng
        while True:
            prefix = rng.choice(MOBILE_PREFIXES)
            national = f"{prefix}{rng.randrange(10**7):07d}"
            if national not in self.phones_taken:
                self.phones_taken.add(national)
                break
        e164 = "+84" + national[1:]
        n = national
        style = rng.randrange(10)
        if style == 0 and prefix in OLD_PREFIX_OF:
            raw = f"{OLD_PREFIX_OF[prefix]} {n[3:6]} {n[6:]}"  # the pre-2018 11-digit number
        elif style == 1:
            raw = f"+84 {n[1:4]} {n[4:7]} {n[7:]}"
        elif style == 2:
            raw = f"84{n[1:]}"
        elif style == 3:
            raw = f"{n[:4]}.{n[4:7]}.{n[7:]}"
        elif style == 4:
            raw = f"(+84) {n[1:4]}-{n[4:7]}-{n[7:]}"
        elif style in (5, 6):
            raw = f"{n[:4]} {n[4:7]} {n[7:]}"
        else:
            raw = n
        return PhoneRow(raw=raw, e164=e164)

    def timeline(self, created: dt.datetime) -> list[tuple[str, str, str, str, dt.datetime]]:
        """1–6 (kind, channel, subject, body, occurred_at) after ``created``, oldest first."""
        rng = self.rng
        span = max(1, int((self.now - created).total_seconds()))
        out = []
        for _ in range(rng.choices((1, 2, 3, 4, 5, 6), (25, 25, 20, 15, 10, 5))[0]):
            kind = rng.choices([k for k, _ in TIMELINE_KINDS], [w for _, w in TIMELINE_KINDS])[0]
            subject, body = rng.choice(TIMELINE_TEXT[kind])
            product = rng.choice(PRODUCTS)
            when = created + dt.timedelta(seconds=rng.randrange(span))
            out.append(
                (kind, rng.choice(TIMELINE_CHANNELS[kind]), subject.format(p=product), body.format(p=product), when)
            )
        return sorted(out, key=lambda row: row[4])


def demo_contacts_load(run: DemoRun) -> None:
    """The contacts part of the demo (``core/demo.py``): ``run.contacts`` generated contacts
    with companies, identities, tags, timeline, and one demo user per built-in role; leaves the
    new contacts' ids in ``run.contact_ids``.

    Safe to run on a database that already holds data (generated emails, external ids and tax
    codes avoid the ones already stored).
    """
    contacts, now = run.contacts, run.now
    gen = PeopleGenerator(seed=run.seed, now=now, n_companies=max(5, contacts // 20))
    gen.emails_taken.update(ContactEmail.objects.values_list("email", flat=True))
    stages = {s.key: s for s in LifecycleStage.objects.all()}
    fallback_stage = LifecycleStage.objects.filter(is_active=True).order_by("position").first()
    if fallback_stage is None:
        raise RuntimeError("no lifecycle stages: run migrations first")
    buyer_roles = list(BuyerRole.objects.filter(is_active=True))
    password, users = _demo_users()
    sales = [u for u in users if u.role.key == "sales"]
    sales = sales or list(User.objects.filter(role__key="sales", is_active=True))
    support = next((u for u in users if u.role.key == "support"), None)
    tags = _demo_tags()
    companies = _demo_companies(gen)
    run.counts["companies"] = len(companies)
    ext_taken = set(ExternalId.objects.values_list("system", "value"))
    done = 0
    totals = dict.fromkeys(
        ("contacts", "emails", "phones", "tag_links", "company_links", "external_ids", "social_profiles",
         "timeline_entries", "search_keys"), 0,
    )  # fmt: skip
    while done < contacts:
        size = min(BATCH, contacts - done)
        people = [gen.person() for _ in range(size)]
        batch_counts = _load_batch(gen, people, companies, stages, fallback_stage, buyer_roles, sales, support, tags,
                                   ext_taken)  # fmt: skip
        for key, value in batch_counts.items():
            totals[key] += value
        done += size
        if run.progress:
            run.progress(done, contacts)
    run.counts.update(totals)
    run.counts["users"] = len(users)
    run.password, run.user_emails = password, [u.email for u in users]
    run.contact_ids = sorted(Contact.objects.order_by("-id").values_list("id", flat=True)[:contacts])


def demo_contacts_present() -> bool:
    return Contact.objects.exists()


DEMO_LABELS = (
    ("contacts", "contacts"), ("companies", "companies"), ("emails", "emails"), ("phones", "phones"),
    ("tag_links", "tags on contacts"), ("company_links", "contact–company links"), ("external_ids", "external ids"),
    ("social_profiles", "social profiles"), ("timeline_entries", "timeline entries"), ("search_keys", "search keys"),
    ("users", "demo users"),
)  # fmt: skip


def _demo_users() -> tuple[str | None, list[User]]:
    """One user per built-in role but admin, sharing one generated password; existing ones are kept."""
    password = secrets.token_urlsafe(9)
    hashed = make_password(password)
    roles = {r.key: r for r in Role.objects.all()}
    team, _ = Team.objects.get_or_create(name="Kinh doanh")
    users, created = [], False
    for local, role_key, full_name in DEMO_USERS:
        if role_key not in roles:
            continue
        email = f"{local}@{DEMO_DOMAIN}"
        user = User.objects.filter(email=email).select_related("role").first()
        if user is None:
            user = User(
                email=email,
                full_name=full_name,
                role=roles[role_key],
                team=team if role_key == "sales" else None,
                password=hashed,
            )
            user.save()
            created = True
        users.append(user)
    return (password if created else None), users


def _demo_tags() -> dict[str, Tag]:
    existing = {t.name_key: t for t in Tag.objects.filter(name_key__in=[tag_key(n) for n, _, _ in TAGS])}
    new = [Tag(name=n, name_key=tag_key(n), color=c) for n, c, _ in TAGS if tag_key(n) not in existing]
    Tag.objects.bulk_create(new)
    existing.update({t.name_key: t for t in Tag.objects.filter(name_key__in=[tag_key(n) for n, _, _ in TAGS])})
    return {n: existing[tag_key(n)] for n, _, _ in TAGS}


def _demo_companies(gen: PeopleGenerator) -> list[Company]:
    rows = [
        Company(
            name=c.name,
            name_key=company_key(c.name),
            domain=c.domain,
            website=f"https://{c.domain}",
            tax_code=c.tax_code,
            industry=c.industry,
            size=c.size,
            email=f"lienhe@{c.domain}",
            phone=c.phone,
            street=c.street,
            ward=c.ward,
            province=c.province,
            description=f"{c.industry} tại {PROVINCE_NAMES[c.province]}.",
            created_at=gen.now - dt.timedelta(days=gen.rng.randrange(1200, 1500)),
            updated_at=gen.now,
        )
        for c in gen.companies
    ]
    return Company.objects.bulk_create(rows, batch_size=BATCH)


def _load_batch(
    gen: PeopleGenerator,
    people: Sequence[Person],
    companies: Sequence[Company],
    stages: dict[str, LifecycleStage],
    fallback_stage: LifecycleStage,
    buyer_roles: Sequence[BuyerRole],
    sales: Sequence[User],
    support: User | None,
    tags: dict[str, Tag],
    ext_taken: set[tuple[str, str]],
) -> dict[str, int]:
    rng = gen.rng
    new: list[NewContact] = []
    for p in people:
        emails = [normalize_email(e) for e in p.emails]
        phones = [_phone_row(ph.raw) for ph in p.phones]
        entries = gen.timeline(p.created_at)
        owner = rng.choice(sales) if sales and rng.random() < 0.6 else None
        last = max([p.created_at, *(e[4] for e in entries)])
        buyer_role = rng.choice(buyer_roles) if buyer_roles and p.company is not None and rng.random() < 0.5 else None
        values = _contact_values(p, stages.get(p.stage, fallback_stage), buyer_role, owner, last)
        contact = NewContact(
            values=values,
            emails=[(e, "work" if e.endswith(".example") else "personal") for e in emails],
            phones=[(ph.e164, ph.raw[:40], ph.kind, ph.kind) for ph in phones],
            tag_ids=[tags[name].pk for name in p.tags],
        )
        _demo_links(gen, contact, p, companies, ext_taken, phones)
        contact.entries = _demo_entries(gen, entries, owner, support)
        new.append(contact)
    writer = ContactWriter(Actor.system("cli"))
    ids = writer.create(new)
    return _counts(new, len(ids), writer.search_rows)


def _counts(new: list[NewContact], contacts: int, search_rows: int) -> dict[str, int]:
    """What a batch made, for the demo's summary."""
    return {
        "contacts": contacts,
        "emails": sum(len(c.emails) for c in new),
        "phones": sum(len(c.phones) for c in new),
        "tag_links": sum(len(c.tag_ids) for c in new),
        "company_links": sum(len(c.companies) for c in new),
        "external_ids": sum(len(c.external_ids) for c in new),
        "social_profiles": sum(len(c.socials) for c in new),
        "timeline_entries": sum(len(c.entries) for c in new),
        "search_keys": search_rows,
    }


def _contact_values(p: Person, stage: LifecycleStage, buyer_role: BuyerRole | None, owner: User | None,
                    last: dt.datetime) -> dict[str, Any]:  # fmt: skip
    """A person's contact columns, for the writer."""
    return {
        "full_name": p.full_name, "family_name": p.family_name, "middle_name": p.middle_name,
        "given_name": p.given_name, "street": p.street, "ward": p.ward, "province": p.province,
        "birthday": p.birthday, "gender": p.gender, "occupation": p.occupation, "job_title": p.job_title,
        "education": p.education, "income_band": p.income_band, "lifecycle_stage_id": stage.pk,
        "buyer_role_id": buyer_role.pk if buyer_role else None, "source": p.source,
        "owner_id": owner.pk if owner else None, "created_at": p.created_at, "updated_at": last,
        "last_activity_at": last, **p.extras,
    }  # fmt: skip


def _phone_row(raw: str) -> PhoneRow:
    parsed = normalize_phone(raw)
    return PhoneRow(raw=raw, e164=parsed.e164, kind=parsed.kind)


def _demo_entries(gen: PeopleGenerator, entries: list[tuple[str, str, str, str, dt.datetime]], owner: User | None,
                  support: User | None) -> list[Entry]:  # fmt: skip
    """A person's history: calls, meetings and notes by their owner, the rest by support."""
    out = []
    for kind, channel, subject, body, when in entries:
        author = owner if kind in ("call", "meeting", "note") else support
        out.append(
            Entry(kind=kind, channel=channel, subject=subject, body=body, author_id=author.pk if author else None,
                  occurred_at=when, is_private=kind == "note" and gen.rng.random() < 0.1)
        )  # fmt: skip
    return out


def _demo_links(gen: PeopleGenerator, contact: NewContact, p: Person, companies: Sequence[Company],
                ext_taken: set[tuple[str, str]], phones: list[PhoneRow]) -> None:  # fmt: skip
    """A person's companies, external id and social profiles."""
    rng = gen.rng
    if p.company is not None:
        company = companies[p.company]
        contact.companies.append((company.pk, company.name, p.job_title))
        if rng.random() < 0.05:
            other = companies[rng.randrange(len(companies))]
            if other.pk != company.pk:
                contact.companies.append((other.pk, other.name, ""))
    if rng.random() < 0.15:
        system = rng.choice(("haravan", "kiotviet", "sapo"))
        value = f"{system[:2].upper()}{rng.randrange(10**7):07d}"
        if (system, value) not in ext_taken:
            ext_taken.add((system, value))
            contact.external_ids.append((system, value))
    if phones and rng.random() < 0.3:
        contact.socials.append(("zalo", phones[0].e164))
    if rng.random() < 0.2:
        # A profile address of the person's name (the contact has no id yet to make it unique with).
        contact.socials.append(("facebook", f"https://facebook.com/{fold(p.full_name).replace(' ', '.')}"))
