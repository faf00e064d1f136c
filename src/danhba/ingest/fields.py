"""What a column can be imported into, and which column probably is what.

A *target* is a string: a contact field (``"full_name"``, ``"email"``…), ``"custom.<key>"``
for a custom field, ``"social.<network>"``, ``"consent.<purpose>"`` for a yes/no column stating
consent, or ``""`` to skip the column. ``email``, ``phone``, ``tags``, ``note``, ``external_id``
and ``social.*`` may take several columns; every other target takes one.

Suggestions read English and Vietnamese headers with or without diacritics ("Họ và tên",
"ho ten", "SĐT", "Di động", "E-mail 1 - Value"…) and the export layouts of Google Contacts,
Outlook, HubSpot and Mautic (:data:`PRESETS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import SocialProfile
from danhba.core.normalize import fold

MULTI_TARGETS = frozenset({"email", "phone", "tags", "note", "external_id"})

STANDARD_TARGETS: list[tuple[str, Any]] = [
    ("full_name", _("Full name")),
    ("family_name", _("Family name (Họ)")),
    ("middle_name", _("Middle name")),
    ("given_name", _("Given name (Tên)")),
    ("email", _("Email")),
    ("phone", _("Phone")),
    ("address", _("Full address (street, ward, province in one)")),
    ("street", _("Street address")),
    ("ward", _("Ward / commune")),
    ("province", _("Province / city")),
    ("country", _("Country")),
    ("birthday", _("Birthday")),
    ("gender", _("Gender")),
    ("company", _("Company")),
    ("job_title", _("Job title")),
    ("occupation", _("Occupation")),
    ("education", _("Education")),
    ("income_band", _("Income band")),
    ("family", _("Family")),
    ("lifestyle", _("Lifestyle")),
    ("hobbies", _("Hobbies")),
    ("preferences", _("Preferences")),
    ("motivations", _("Motivations")),
    ("likes", _("Likes")),
    ("dislikes", _("Dislikes")),
    ("lifecycle_stage", _("Lifecycle stage")),
    ("buyer_role", _("Buyer role")),
    ("owner", _("Owner (user's email)")),
    ("tags", _("Tags")),
    ("note", _("Note (added to the timeline)")),
    ("external_id", _("External id")),
]
STANDARD_KEYS = frozenset(key for key, _label in STANDARD_TARGETS)


def target_choices() -> list[tuple[str, str]]:
    """Every target for the mapping form, custom fields and consent purposes included."""
    from danhba.contacts.models import CustomField
    from danhba.privacy.models import ConsentPurpose

    choices = [("", str(_("— skip this column —")))]
    choices += [(key, str(label)) for key, label in STANDARD_TARGETS]
    profile, custom = str(_("profile")), str(_("custom field"))
    choices += [(f"social.{value}", f"{label} ({profile})") for value, label in SocialProfile.Network.choices]
    for cf in CustomField.objects.filter(entity=CustomField.Entity.CONTACT, is_active=True):
        choices.append((f"custom.{cf.key}", f"{cf.label} ({custom})"))
    for purpose in ConsentPurpose.objects.filter(is_active=True):
        choices.append((f"consent.{purpose.key}", str(_("Consent: %(purpose)s") % {"purpose": purpose.label})))
    return choices


def is_multi(target: str) -> bool:
    return target in MULTI_TARGETS or target.startswith("social.")


def valid_target(target: str) -> bool:
    return target == "" or target in {key for key, _label in target_choices()}


# --- header suggestions ---------------------------------------------------------------------


def header_key(header: str) -> str:
    """A header folded for lookup: "Số điện thoại (*)" → "so dien thoai"."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(header)).split())


# Folded header → target. Vietnamese with and without diacritics folds to the same key.
SYNONYMS: dict[str, str] = {}
for _target, _words in {
    "full_name": "ho va ten|ho ten|ho va ten khach hang|ten khach hang|khach hang|ten day du|full name|name|"
    "contact name|customer name|ten kh|ho ten kh|ten nguoi lien he|nguoi lien he|display name|fn",
    "family_name": "ho|last name|family name|surname|lastname|ho dem|ho va ten dem|ho va dem",
    "middle_name": "ten dem|middle name|dem|ten lot|chu lot",
    "given_name": "ten|first name|given name|firstname|ten goi",
    "email": "email|e mail|thu dien tu|dia chi email|email address|mail|e mail address|email 1|email 2|"
    "email ca nhan|email cong ty|work email|personal email",
    "phone": "sdt|so dien thoai|dien thoai|di dong|so di dong|dt|dtdd|phone|phone number|mobile|mobile phone|"
    "cell|telephone|tel|so dt|sdt lien he|zalo sdt|hotline|phone 1|phone 2|dien thoai di dong|"
    "dien thoai ban|so may",
    "address": "dia chi|address|dia chi lien he|dia chi nha|full address|dia chi thuong tru|dia chi giao hang",
    "street": "so nha|duong|street|street address|so nha duong",
    "ward": "phuong|xa|phuong xa|ward|commune",
    "province": "tinh|thanh pho|tinh thanh pho|tinh tp|tinh thanh|tp|city|province|state|region|khu vuc|"
    "tinh thanh pho truc thuoc trung uong",
    "country": "quoc gia|country|nuoc",
    "birthday": "ngay sinh|sinh nhat|birthday|date of birth|dob|birth date|ngay thang nam sinh|nam sinh",
    "gender": "gioi tinh|gender|sex|phai",
    "company": "cong ty|ten cong ty|company|company name|organization|organisation|doanh nghiep|don vi|"
    "co quan|noi cong tac|to chuc",
    "job_title": "chuc vu|chuc danh|job title|title|position|vi tri|chuc vu hien tai",
    "occupation": "nghe nghiep|occupation|nganh nghe",
    "education": "hoc van|trinh do|education|trinh do hoc van",
    "income_band": "thu nhap|income|muc thu nhap",
    "hobbies": "so thich|hobbies|hobby",
    "lifecycle_stage": "giai doan|lifecycle stage|stage|trang thai khach hang",
    "buyer_role": "vai tro mua hang|buyer role",
    "owner": "nguoi phu trach|nhan vien phu trach|owner|contact owner|sales|nhan vien sale",
    "tags": "nhom|tags|tag|the|nhan|labels|categories|phan loai|nhom khach hang|group|groups",
    "note": "ghi chu|note|notes|chu thich|mo ta|description|comment|comments|nhan xet",
    "external_id": "ma khach hang|ma kh|customer id|external id|id khach hang|ma the|so the|member id|"
    "ma thanh vien|record id",
    "social.zalo": "zalo",
    "social.facebook": "facebook|fb|link facebook",
}.items():
    for _word in _words.split("|"):
        SYNONYMS[_word] = _target


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    columns: dict[str, str]  # folded header → target
    options: dict[str, Any]
    signature: tuple[str, ...]  # folded headers that identify the layout


def _folded(columns: dict[str, str]) -> dict[str, str]:
    return {header_key(h): t for h, t in columns.items()}


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset(
            "google",
            "Google Contacts",
            _folded(
                {
                    "Name": "full_name",
                    "Given Name": "given_name",
                    "Additional Name": "middle_name",
                    "Family Name": "family_name",
                    "First Name": "given_name",
                    "Middle Name": "middle_name",
                    "Last Name": "family_name",
                    "Birthday": "birthday",
                    "Gender": "gender",
                    "Notes": "note",
                    "Group Membership": "tags",
                    "Labels": "tags",
                    "E-mail 1 - Value": "email",
                    "E-mail 2 - Value": "email",
                    "E-mail 3 - Value": "email",
                    "Phone 1 - Value": "phone",
                    "Phone 2 - Value": "phone",
                    "Phone 3 - Value": "phone",
                    "Address 1 - Formatted": "address",
                    "Address 1 - Street": "street",
                    "Address 1 - City": "province",
                    "Address 1 - Region": "province",
                    "Address 1 - Country": "country",
                    "Organization 1 - Name": "company",
                    "Organization 1 - Title": "job_title",
                    "Organization Name": "company",
                    "Organization Title": "job_title",
                }
            ),
            # Google puts several values in one cell joined by " ::: " and marks its system
            # group "* myContacts".
            {"multi_value_separator": ":::", "tag_ignore": ["* myContacts", "* starred", "myContacts"]},
            ("e mail 1 value", "phone 1 value"),
        ),
        Preset(
            "outlook",
            "Microsoft Outlook",
            _folded(
                {
                    "First Name": "given_name",
                    "Middle Name": "middle_name",
                    "Last Name": "family_name",
                    "E-mail Address": "email",
                    "E-mail 2 Address": "email",
                    "E-mail 3 Address": "email",
                    "Mobile Phone": "phone",
                    "Home Phone": "phone",
                    "Business Phone": "phone",
                    "Primary Phone": "phone",
                    "Other Phone": "phone",
                    "Company": "company",
                    "Job Title": "job_title",
                    "Birthday": "birthday",
                    "Gender": "gender",
                    "Notes": "note",
                    "Categories": "tags",
                    "Home Street": "street",
                    "Home City": "province",
                    "Home State": "province",
                    "Home Country/Region": "country",
                    "Business Street": "street",
                    "Business City": "province",
                }
            ),
            {"external_id_system": "outlook"},
            ("e mail address", "mobile phone", "first name"),
        ),
        Preset(
            "hubspot",
            "HubSpot",
            _folded(
                {
                    "Record ID": "external_id",
                    "First Name": "given_name",
                    "Last Name": "family_name",
                    "Email": "email",
                    "Phone Number": "phone",
                    "Mobile Phone Number": "phone",
                    "Company Name": "company",
                    "Job Title": "job_title",
                    "Street Address": "street",
                    "City": "province",
                    "State/Region": "province",
                    "Country/Region": "country",
                }
            ),
            {"external_id_system": "hubspot"},
            ("record id", "first name", "last name"),
        ),
        Preset(
            "mautic",
            "Mautic",
            _folded(
                {
                    "id": "external_id",
                    "firstname": "given_name",
                    "lastname": "family_name",
                    "email": "email",
                    "mobile": "phone",
                    "phone": "phone",
                    "company": "company",
                    "position": "job_title",
                    "address1": "street",
                    "city": "province",
                    "state": "province",
                    "country": "country",
                    "tags": "tags",
                    "facebook": "social.facebook",
                    "linkedin": "social.linkedin",
                    "instagram": "social.instagram",
                    "twitter": "social.x",
                }
            ),
            {"external_id_system": "mautic", "tag_delimiters": "|,"},
            ("firstname", "lastname", "email"),
        ),
    )
}


def detect_preset(headers: list[str]) -> Preset | None:
    """The export layout these headers come from, when every signature header is there."""
    keys = {header_key(h) for h in headers}
    for preset in PRESETS.values():
        if all(sig in keys for sig in preset.signature):
            return preset
    return None


def suggest_columns(headers: list[str], preset: Preset | None = None) -> dict[str, str]:
    """A target for each header (``""`` when unsure), never two headers on a single-value target."""
    keys = [header_key(h) for h in headers]
    has_family = any((preset.columns if preset else SYNONYMS).get(k) == "family_name" for k in keys)
    taken: set[str] = set()
    out: dict[str, str] = {}
    for header, key in zip(headers, keys, strict=True):
        target = (preset.columns.get(key) if preset else None) or SYNONYMS.get(key, "")
        if not target and not preset and not key.endswith((" label", " type")):
            # "Email 2", "SĐT 1", "Điện thoại nhà": drop a trailing number or word.
            trimmed = re.sub(r" \w+$", "", key) if " " in key else key
            target = SYNONYMS.get(trimmed, "") if trimmed != key else ""
        if target == "given_name" and key == "ten" and not has_family:
            target = "full_name"  # a lone "Tên" column holds whole names
        if target and not is_multi(target) and target in taken:
            target = ""
        if target:
            taken.add(target)
        out[header] = target
    return out
