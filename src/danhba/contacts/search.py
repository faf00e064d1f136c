"""The contact search index: which keys a contact is found by, keeping them current, and the
query the contact list, the API and exports run.

Today the index is the ``SearchKey`` table (per contact: every word-suffix of the folded name,
each email, each phone as reversed national digits, the folded names of its companies; see
``keys.py``), read as one index range scan in key order. Writers call :func:`search_index`
(or :func:`search_index_soon`) after they change what a contact is found by; readers call
:func:`search_prefix` and :func:`search_matches`. Nothing else touches ``SearchKey``, except the
bulk writers that insert the keys of contacts they create (``contact_search_keys``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from danhba.contacts.keys import email_key, name_keys, phone_key
from danhba.contacts.models import Contact, ContactCompany, ContactEmail, ContactPhone, SearchKey
from danhba.core.bulk import Table
from danhba.core.normalize import NormalizationError, clean_text, fold, looks_like_phone, normalize_phone

# --- writing ------------------------------------------------------------------------------


def contact_search_keys(
    full_name: str, emails: Iterable[str], e164s: Iterable[str], company_names: Iterable[str]
) -> set[str]:
    """The keys :func:`search_index` stores for a contact with these values, computed without
    reading the database (for writers that insert many contacts at once)."""
    keys = set(name_keys(full_name))
    keys.update(email_key(email) for email in emails)
    keys.update(phone_key(e164) for e164 in e164s)
    for company in company_names:
        keys.update(name_keys(company))
    return {k for k in keys if k}


class SearchDoc(NamedTuple):
    """What a contact is found by, as a writer that creates it already holds it."""

    contact_id: int
    full_name: str
    emails: Sequence[str] = ()
    e164s: Sequence[str] = ()
    company_names: Sequence[str] = ()


def search_index_new(docs: Iterable[SearchDoc]) -> int:
    """Index contacts the caller has just created in this transaction (nothing of theirs is
    indexed yet), from the values it holds: no reads. Bulk writers (the import loader,
    ``ContactsBulk``, the demo) call it once per batch. Returns how many index rows it wrote."""
    rows = [
        (doc.contact_id, key)
        for doc in docs
        for key in sorted(contact_search_keys(doc.full_name, doc.emails, doc.e164s, doc.company_names))
    ]
    Table(SearchKey, ["contact_id", "key"]).insert(rows)
    return len(rows)


def search_index(contact_ids: Sequence[int]) -> None:
    """Recompute the search keys of these contacts from their current data (now, in the
    caller's transaction)."""
    ids = list(contact_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        keys: dict[int, set[str]] = {cid: set() for cid in chunk}
        for cid, name in Contact.objects.filter(pk__in=chunk).values_list("pk", "full_name"):
            keys[cid].update(name_keys(name))
        for cid, email in ContactEmail.objects.filter(contact_id__in=chunk).values_list("contact_id", "email"):
            keys[cid].add(email_key(email))
        for cid, e164 in ContactPhone.objects.filter(contact_id__in=chunk).values_list("contact_id", "e164"):
            keys[cid].add(phone_key(e164))
        links = ContactCompany.objects.filter(contact_id__in=chunk).values_list("contact_id", "company__name")
        for cid, company_name in links:
            keys[cid].update(name_keys(company_name))
        SearchKey.objects.filter(contact_id__in=chunk).delete()
        SearchKey.objects.bulk_create(
            [SearchKey(contact_id=cid, key=k) for cid, ks in keys.items() for k in ks if k], batch_size=2000
        )


def search_index_soon(contact_ids: Sequence[int]) -> None:
    """:func:`search_index` now for a few contacts, or in the worker (after commit) for many."""
    if len(contact_ids) <= settings.SEARCH_REINDEX_INLINE_MAX:
        search_index(contact_ids)
        return
    from danhba.contacts.tasks import search_keys_rebuild_job

    ids = list(contact_ids)
    transaction.on_commit(lambda: search_keys_rebuild_job(ids))


# --- reading ------------------------------------------------------------------------------


def _looks_like_email_start(text: str) -> bool:
    """ "hoa.nguyen87" or "lan_tran" is the start of an email address, not a name."""
    return (
        " " not in text
        and text.isascii()
        and any(c.isalpha() for c in text)
        and any(c in "._+" or c.isdigit() for c in text)
    )


def search_prefix(query: str) -> str | None:
    """The key prefix a query looks for: a phone's reversed digits, an email, or a folded name."""
    text = clean_text(query)
    if not text:
        return None
    if looks_like_phone(text):
        try:
            return phone_key(normalize_phone(text).e164)
        except NormalizationError:
            # A partial number: the last digits the person remembers.
            return "#" + "".join(ch for ch in text if ch.isdigit())[::-1]
    if "@" in text or _looks_like_email_start(text):
        return text.lower()
    keys = name_keys(text)
    return keys[0] if keys else fold(text) or None


def search_matches(prefix: str, condition: Q) -> QuerySet[SearchKey]:
    """Search keys starting with ``prefix``, one per contact, with ``condition`` on the contact
    (field paths under ``contact__``): a contact matching through several keys (its name and its
    company's) counts at its first matching key only, so it appears once in results, pages and
    counts. The (contact, key) index answers the "no earlier key" check."""
    end = prefix + "\U0010ffff"
    earlier = SearchKey.objects.filter(contact_id=OuterRef("contact_id"), key__gte=prefix, key__lt=OuterRef("key"))
    keys = SearchKey.objects.filter(key__gte=prefix, key__lt=end).filter(~Exists(earlier))
    return keys.filter(condition) if condition else keys
