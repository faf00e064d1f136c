"""The quality app's part of the demo (``danhba demo``): every demo contact's freshness and
decay signals computed (the demo's activity spans two years, so every freshness bucket has
contacts), and the dashboard's first snapshot taken, so ``/quality/`` shows something on a new
site."""

from __future__ import annotations

import datetime as dt
from typing import Any

from danhba.contacts.keys import name_key
from danhba.contacts.models import Contact, ContactEmail, ContactPhone
from danhba.contacts.search import search_index
from danhba.core.bulk import chunks
from danhba.core.demo import DemoRun
from danhba.core.normalize import fold, name_case
from danhba.quality.models import DuplicatePair, Freshness
from danhba.quality.services import duplicates
from danhba.quality.services.dashboard import quality_snapshot_compute
from danhba.quality.services.freshness import freshness_update


def demo_quality_part(run: DemoRun) -> None:
    for chunk in chunks(list(run.contact_ids), 500):
        freshness_update(contact_ids=chunk, now=run.now)
    quality_snapshot_compute(now=run.now)
    run.counts["freshness"] = lambda: Freshness.objects.count()


# --- duplicate detection ----------------------------------------------------------------------
# The demo's duplicates: a few demo contacts rewritten as near copies of others (typed without


PLANTED = 6


def _variant(index: int, original: Contact) -> dict[str, Any]:
    words = original.full_name.split()
    if index % 3 == 0:
        name = name_case(fold(original.full_name))  # typed without diacritics
    elif index % 3 == 1 and len(words) > 1:
        name = " ".join(words[-1:] + words[:-1])  # given name first
    else:
        name = original.full_name
    phone = original.phone
    if index % 2 and phone:
        phone = phone[:-1] + str((int(phone[-1]) + 1) % 10)  # one digit mistyped
    birthday = original.birthday
    if birthday and index % 4 == 3 and birthday.day <= 12:
        birthday = dt.date(birthday.year, birthday.day, birthday.month)
    return {"name": name, "phone": phone, "birthday": birthday}


def demo_duplicates_load() -> int:
    """Plant ``PLANTED`` pairs and check them; returns the open pairs found."""
    # Copies in the same province as their original: segments by province keep their members.
    people: list[Contact] = []
    seen: dict[str, Contact] = {}
    for contact in Contact.objects.exclude(phone="").exclude(birthday=None).exclude(province="").order_by("id")[:400]:
        if len(people) >= PLANTED * 2:
            break
        if not contact.phone.startswith("+84"):
            continue
        first = seen.pop(contact.province, None)
        if first is None:
            seen[contact.province] = contact
        else:
            people += [first, contact]
    changed = []
    for index in range(min(PLANTED, len(people) // 2)):
        original, copy = people[2 * index], people[2 * index + 1]
        v = _variant(index, original)
        parts = v["name"].split()
        Contact.objects.filter(pk=copy.pk).update(
            full_name=v["name"],
            family_name=parts[0] if len(parts) > 1 else "",
            middle_name=" ".join(parts[1:-1]),
            given_name=parts[-1],
            name_key=name_key(v["name"]),
            birthday=v["birthday"],
            phone=v["phone"],
        )
        phone_row = ContactPhone.objects.filter(contact=copy).order_by("-is_primary", "id").first()
        if phone_row is not None and not ContactPhone.objects.filter(contact=copy, e164=v["phone"]).exists():
            phone_row.e164, phone_row.raw = v["phone"], "0" + v["phone"][3:]
            phone_row.save(update_fields=["e164", "raw"])
        if original.email and copy.email:
            local, _at, domain = original.email.partition("@")
            near = f"{local}@{domain[:-1]}" if index % 2 == 0 else f"{local}1@{domain}"
            if not ContactEmail.objects.filter(email=near).exists():
                ContactEmail.objects.filter(contact=copy, email=copy.email).update(email=near)
                Contact.objects.filter(pk=copy.pk).update(email=near)
        changed.append(copy.pk)
    search_index(changed)
    duplicates.pairs_check(changed)
    return DuplicatePair.objects.filter(status=DuplicatePair.Status.OPEN).count()


def demo_duplicates_part(run: DemoRun) -> None:
    run.counts["duplicate_pairs"] = demo_duplicates_load()
