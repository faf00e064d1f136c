"""Exports of contact lists. Each export honours record visibility and field-level hiding, and
is written to the audit log. Rows are streamed page by page (keyset), never all in memory.

The collection issue adds XLSX, JSON and vCard and background jobs for large exports; they
plug in beside :func:`contacts_export_csv` through :func:`export_rows`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch

from danhba.accounts import permissions as perms
from danhba.contacts.models import Contact, ContactCompany
from danhba.contacts.selectors import ContactFilters, contact_page, hidden_fields, visible_custom_fields
from danhba.contacts.services import require
from danhba.core.actor import Actor
from danhba.privacy.models import AuditEvent
from danhba.privacy.services import audit_event

BASE_COLUMNS = [
    "id", "full_name", "family_name", "middle_name", "given_name", "email", "phone", "other_emails", "other_phones",
    "street", "ward", "province", "address_raw", "country", "birthday", "gender", "occupation", "job_title",
    "education", "income_band", "family", "lifestyle", "hobbies", "preferences", "motivations", "likes",
    "dislikes", "lifecycle_stage", "buyer_role", "source", "owner", "tags", "companies", "created_at",
    "updated_at", "last_activity_at",
]  # fmt: skip
PAGE = 1000


def export_columns(user: Any) -> list[str]:
    hidden = hidden_fields(user)
    columns = [c for c in BASE_COLUMNS if c not in hidden]
    columns += [f"custom.{cf.key}" for cf in visible_custom_fields(user)]
    return columns


def export_rows(user: Any, filters: ContactFilters) -> Iterator[dict[str, Any]]:
    """Every contact the user may see under ``filters``, as flat rows of visible fields."""
    hidden = hidden_fields(user)
    cursor: str | None = None
    while True:
        page = contact_page(user, filters, sort="created", cursor=cursor, limit=PAGE)
        ids = [c.pk for c in page.items]
        contacts = (
            Contact.objects.filter(pk__in=ids)
            .select_related("lifecycle_stage", "buyer_role", "owner")
            .prefetch_related(
                "emails", "phones", "tags",
                Prefetch("company_links", queryset=ContactCompany.objects.select_related("company")),
            )
            .in_bulk(ids)
        )  # fmt: skip
        for pk in ids:
            yield _row(contacts[pk], hidden)
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def _row(c: Contact, hidden: set[str]) -> dict[str, Any]:
    emails = [e.email for e in c.emails.all()]
    phones = [p.e164 for p in c.phones.all()]
    row: dict[str, Any] = {
        "id": c.pk,
        "full_name": c.full_name,
        "family_name": c.family_name,
        "middle_name": c.middle_name,
        "given_name": c.given_name,
        "email": c.email,
        "phone": c.phone,
        "other_emails": "; ".join(e for e in emails if e != c.email),
        "other_phones": "; ".join(p for p in phones if p != c.phone),
        "street": c.street,
        "ward": c.ward,
        "province": c.get_province_display() if c.province else "",
        "address_raw": c.address_raw,
        "country": c.country,
        "birthday": c.birthday.isoformat() if c.birthday else "",
        "gender": c.gender,
        "occupation": c.occupation,
        "job_title": c.job_title,
        "education": c.education,
        "income_band": c.income_band,
        "family": c.family,
        "lifestyle": c.lifestyle,
        "hobbies": c.hobbies,
        "preferences": c.preferences,
        "motivations": c.motivations,
        "likes": c.likes,
        "dislikes": c.dislikes,
        "lifecycle_stage": c.lifecycle_stage.key if c.lifecycle_stage_id else "",
        "buyer_role": c.buyer_role.key if c.buyer_role else "",
        "source": c.source,
        "owner": c.owner.email if c.owner else "",
        "tags": "; ".join(sorted(t.name for t in c.tags.all())),
        "companies": "; ".join(link.company.name for link in c.company_links.all()),
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
        "last_activity_at": c.last_activity_at.isoformat(),
    }
    for key in hidden:
        row.pop(key, None)
    for key, value in (c.custom or {}).items():
        if f"custom.{key}" not in hidden:
            row[f"custom.{key}"] = "; ".join(map(str, value)) if isinstance(value, list) else value
    return row


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (``=HYPERLINK(…)`` typed into a form) gets a
    leading apostrophe, which Excel and LibreOffice show as plain text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def contacts_export_csv(*, actor: Actor, filters: ContactFilters) -> Iterator[str]:
    """CSV text chunks (UTF-8 with BOM when encoded, so Excel opens Vietnamese correctly).

    The audit entry is written before the first row leaves, naming the filters used.
    """
    assert actor.user is not None
    require(actor, "contact", perms.EXPORT)
    user = actor.user
    columns = export_columns(user)
    audit_event(
        actor=actor, action=AuditEvent.Action.EXPORT, object_type="contact", object_label="contacts CSV export",
        changes={"filters": [None, {k: str(v) for k, v in vars(filters).items() if v not in ("", None, {}, [])}]},
    )  # fmt: skip

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        yield "\ufeff"
        writer.writeheader()
        for n, row in enumerate(export_rows(user, filters), 1):
            writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
            if n % 200 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return generate()
