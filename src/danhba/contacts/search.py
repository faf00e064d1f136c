"""The contact search index: what a contact is found by, keeping it current, and the condition
the contact list, the API and exports search with.

One ``SearchEntry`` row per contact holds four texts: the folded words of its name, of its
companies' names, its emails, its phones as reversed national digits (so a prefix search on the
text is a suffix search on the number). The database indexes those words
(docs/decisions/0005-search-index.md):

- SQLite: an FTS5 table ``contacts_searchentry_fts`` over the entries (external content, kept
  current by triggers on ``contacts_searchentry``), with prefix indexes for 1 and 2 characters;
- PostgreSQL: a generated ``tsvector`` column ``doc`` (name words weight A, company words B,
  emails as lexemes "@…", phones as "#…") with a GIN index.

A query matches a contact when one of its words starts with the query (several words: the
words in a row, the last one a prefix), in its name or a company's name; an email when the
query looks like the start of one ("hoa.nguyen87", "duc@gm") and the email starts with it; a
phone when the number ends with the digits typed. Emails are indexed as "@" and the address, so
a name's prefix never expands to the addresses that start with it. Writers call
:func:`search_index` (or :func:`search_index_soon`) after they change what a contact is found
by, and :func:`search_index_new` (:func:`search_index_rows`) for contacts they have just created; readers call
:func:`search_prefix` and :func:`search_matches`. Nothing else touches ``SearchEntry``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from danhba.contacts.keys import phone_digits
from danhba.contacts.models import Contact, ContactCompany, ContactEmail, ContactPhone, SearchEntry, SearchMatch
from danhba.core.bulk import Table, chunks
from danhba.core.normalize import NormalizationError, clean_text, fold_words, looks_like_phone, normalize_phone

# --- writing ------------------------------------------------------------------------------


class SearchDoc(NamedTuple):
    """What a contact is found by, as a writer that creates it already holds it."""

    contact_id: int
    full_name: str
    emails: Sequence[str] = ()
    e164s: Sequence[str] = ()
    company_names: Sequence[str] = ()
    folded_name: str | None = None  # fold(full_name), when the writer has it
    texts: tuple[str, str, str, str] | None = None  # search_texts of the above, when the writer has them


def _words(texts: Iterable[str]) -> str:
    return " ".join(dict.fromkeys(w for text in texts for w in fold_words(text)))


@functools.lru_cache(maxsize=20_000)
def _company_words(name: str) -> str:
    """The folded words of one company's name: a bulk write names the same companies again and
    again (5,000 companies for 400,000 links in the benchmark's data)."""
    return _words((name,))


def _email_words(emails: Sequence[str]) -> str:
    if len(emails) == 1:  # most contacts: one address, no set to build
        e = emails[0]
        return e.lower() if e and " " not in e else ""
    return " ".join(dict.fromkeys(e.lower() for e in emails if e and " " not in e))


def _phone_words(e164s: Sequence[str]) -> str:
    if len(e164s) == 1:
        return phone_digits(e164s[0])
    return " ".join(dict.fromkeys(d for d in map(phone_digits, e164s) if d))


def _company_text(names: Sequence[str]) -> str:
    return _company_words(names[0]) if len(names) == 1 else _words(names)


def _name_words(full_name: str, folded: str | None) -> str:
    """The folded words of a name, joined: the folded name itself when it is words of letters
    and digits between single spaces (a name as an import's reader folds it), else by
    ``fold_words`` (a hypothesis test holds the two together, core/tests/test_fast_paths.py)."""
    if folded and folded.replace(" ", "").isalnum() and "  " not in folded and folded[0] != " " != folded[-1]:
        return folded
    return " ".join(fold_words(full_name, folded=folded))


def search_texts(
    full_name: str,
    emails: Sequence[str] = (),
    e164s: Sequence[str] = (),
    company_names: Sequence[str] = (),
    folded_name: str | None = None,
) -> tuple[str, str, str, str]:
    """The texts (name, company, email, phone) of a contact's ``SearchEntry``: pure, so a bulk
    writer may make them ahead, in another process (an import's reader), and hand them over in
    :attr:`SearchDoc.texts`."""
    return (
        _name_words(full_name, folded_name),
        _company_text(company_names) if company_names else "",
        _email_words(emails) if emails else "",
        _phone_words(e164s) if e164s else "",
    )


def search_row(doc: SearchDoc) -> tuple[int, str, str, str, str]:
    """The ``SearchEntry`` row (contact, name, company, email, phone) of a contact."""
    texts = doc.texts or search_texts(doc.full_name, doc.emails, doc.e164s, doc.company_names, doc.folded_name)
    return (doc.contact_id, *texts)


COLUMNS = ["contact_id", "name", "company", "email", "phone"]


def search_index_new(docs: Iterable[SearchDoc]) -> int:
    """Index contacts the caller has just created in this transaction (nothing of theirs is
    indexed yet), from the values it holds: no reads, one row per contact. Bulk writers (the
    import loader, ``ContactsBulk``, the demo) call it once per batch. Returns the rows written."""
    return search_index_rows([search_row(doc) for doc in docs])


def search_index_rows(rows: list[tuple[int, str, str, str, str]]) -> int:
    """:func:`search_index_new` of rows made already (:func:`search_row`, or the contact id and
    the :func:`search_texts` a writer holds). Returns the rows written."""
    # One statement per batch on SQLite: each entry fires the FTS5 trigger, and executemany gives
    # each row a statement savepoint (decisions 0004, 0006; event worker: 300 µs a row → 0.5 ms a batch).
    Table(SearchEntry, COLUMNS, one_statement=True).insert(rows)
    return len(rows)


def search_index(contact_ids: Sequence[int]) -> None:
    """Recompute the entries of these contacts from their current data (now, in the caller's
    transaction)."""
    for chunk in chunks(list(dict.fromkeys(contact_ids)), 500):
        names = dict(Contact.objects.filter(pk__in=chunk).values_list("pk", "full_name"))
        emails: dict[int, list[str]] = {cid: [] for cid in names}
        phones: dict[int, list[str]] = {cid: [] for cid in names}
        companies: dict[int, list[str]] = {cid: [] for cid in names}
        for cid, email in ContactEmail.objects.filter(contact_id__in=chunk).values_list("contact_id", "email"):
            emails[cid].append(email)
        for cid, e164 in ContactPhone.objects.filter(contact_id__in=chunk).values_list("contact_id", "e164"):
            phones[cid].append(e164)
        links = ContactCompany.objects.filter(contact_id__in=chunk).order_by("-is_primary", "pk")
        for cid, company_name in links.values_list("contact_id", "company__name"):
            companies[cid].append(company_name)
        SearchEntry.objects.filter(contact_id__in=chunk).delete()
        search_index_new(SearchDoc(cid, name, emails[cid], phones[cid], companies[cid]) for cid, name in names.items())


def search_index_soon(contact_ids: Sequence[int]) -> None:
    """:func:`search_index` now for a few contacts, or in the worker (after commit) for many."""
    if len(contact_ids) <= settings.SEARCH_REINDEX_INLINE_MAX:
        search_index(contact_ids)
        return
    from danhba.contacts.tasks import search_keys_rebuild_job

    ids = list(contact_ids)
    transaction.on_commit(lambda: search_keys_rebuild_job(ids))


# --- reading ------------------------------------------------------------------------------


class SearchQuery(NamedTuple):
    """What a typed query looks for: ``kind`` "phone" (reversed digits), "email" (the start of
    an address) or "name" (folded words, the last one a prefix)."""

    kind: str
    words: tuple[str, ...]


def _looks_like_email_start(text: str) -> bool:
    """ "hoa.nguyen87" or "lan_tran" is the start of an email address, not a name."""
    return (
        " " not in text
        and text.isascii()
        and any(c.isalpha() for c in text)
        and any(c in "._+" or c.isdigit() for c in text)
    )


def search_prefix(query: str) -> SearchQuery | None:
    """What a query looks for: a phone's reversed digits, an email's start, or folded words."""
    text = clean_text(query)
    if not text:
        return None
    if looks_like_phone(text):
        try:
            return SearchQuery("phone", (phone_digits(normalize_phone(text).e164),))
        except NormalizationError:
            # A partial number: the last digits the person remembers.
            return SearchQuery("phone", ("".join(ch for ch in text if ch.isdigit())[::-1],))
    if "@" in text or _looks_like_email_start(text):
        return SearchQuery("email", (text.lower(),))
    words = tuple(fold_words(text))
    return SearchQuery("name", words) if words else None


def _fts5_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def fts5_query(query: SearchQuery) -> str:
    """The FTS5 query: a phrase whose last token is a prefix, in the columns the kind searches."""
    phrase = _fts5_string(" ".join(query.words)) + "*"
    if query.kind == "phone":
        return f"phone: {phrase}"
    if query.kind == "email":  # the index stores an email as "@" and the address (migration 0011)
        return "email: " + _fts5_string("@" + query.words[0]) + "*"
    return f"{{name company}}: {phrase}"


def _lexeme(text: str, weights: str, prefix: bool = False) -> str:
    quoted = "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    return f"{quoted}:{'*' if prefix else ''}{weights}"


def pg_tsquery(query: SearchQuery) -> str:
    """The PostgreSQL tsquery: the same matches as :func:`fts5_query` (emails are lexemes
    "@…" and phones "#…" in ``doc``, names and companies words of weight A and B)."""
    if query.kind == "phone":
        return _lexeme("#" + query.words[0], "", prefix=True)
    if query.kind == "email":
        return _lexeme("@" + query.words[0], "", prefix=True)
    if len(query.words) == 1:
        return _lexeme(query.words[0], "AB", prefix=True)
    phrases = []
    for weight in "AB":
        *head, last = query.words
        parts = [_lexeme(w, weight) for w in head] + [_lexeme(last, weight, prefix=True)]
        phrases.append("(" + " <-> ".join(parts) + ")")
    return " | ".join(phrases)


def search_matches(query: SearchQuery, condition: Q | None = None) -> QuerySet[Any]:
    """Index rows (``contact_id``) that the query matches, one per contact, whose contact meets
    ``condition`` (field paths under ``contact__``). Ordered by ``contact_id`` (either way), the
    database walks the index's matches in that order from a ``contact_id`` bound and stops at
    the limit: FTS5 streams them on SQLite; on PostgreSQL the planner walks the entries'
    primary key for a common query and the GIN index for a rare one."""
    matches: QuerySet[Any]
    if connection.vendor == "postgresql":
        sql = '"contacts_searchentry"."doc" @@ %s::tsquery'
        matches = SearchEntry.objects.filter(RawSQL(sql, [pg_tsquery(query)], output_field=BooleanField()))  # noqa: S611
    else:
        sql = '"contacts_searchentry_fts" MATCH %s'
        matches = SearchMatch.objects.filter(RawSQL(sql, [fts5_query(query)], output_field=BooleanField()))  # noqa: S611
    return matches.filter(condition) if condition else matches
