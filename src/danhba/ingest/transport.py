"""A batch of prepared rows as it travels from the import's reading process to its loader.

Pickling costs per object, so a batch goes as a few long lists (one per field of
:class:`~danhba.ingest.transform.Prepared`), not a tuple of 17 objects per row, and without what
the loader does not read (decision 0027):

- the row as read (``raw``, a dict of every cell: only a report of the row refused in the
  loader needs it) travels as one text, its cells joined in header order;
- ``fields`` does not travel next to the contacts-table row made from it (``row``): its keys
  do (one tuple per distinct set of keys in the batch), and the loader makes it again from the
  row only for the rows that need it (``Prepared.restore_fields``);
- the fields most rows leave empty (custom values, external ids, social profiles, notes,
  consents, warnings) travel by row number, for the rows that have them.

Refused rows (``Rejected``) and empty ones (``None``) travel as they are, by their place.
"""

from __future__ import annotations

from itertools import compress
from operator import attrgetter
from typing import Any

from danhba.ingest.transform import CELL_SEPARATOR, Prepared, Rejected, contact_columns

Item = Prepared | Rejected | None
DENSE = attrgetter("line", "emails", "phones", "tags", "company", "folded_name", "name_key", "search", "row")
SPARSE = ("custom", "external_ids", "socials", "notes", "consents", "warnings")


def pack(batch: list[Item]) -> tuple[Any, ...]:
    """The batch for the queue (:func:`unpack` makes it again)."""
    prepared = [item for item in batch if type(item) is Prepared]
    others = {at: item for at, item in enumerate(batch) if type(item) is not Prepared}
    dense = list(zip(*map(DENSE, prepared), strict=True)) or [()] * 9
    sparse = {}
    for name in SPARSE:
        values = list(map(attrgetter(name), prepared))
        sparse[name] = dict(compress(enumerate(values), values))  # the rows that have some, by number
    return (len(batch), others, _raws(prepared), _fields(prepared), *dense, sparse)


def _raws(prepared: list[Prepared]) -> list[Any]:
    """Each row as read as its header tuple (shared) and its cells joined; as it is when a cell
    holds the separator."""
    out: list[Any] = []
    headers: tuple[str, ...] = ()
    join = CELL_SEPARATOR.join
    for item in prepared:
        raw = item.raw
        if isinstance(raw, dict):
            if tuple(raw) != headers:
                headers = tuple(raw)
            joined = join(raw.values())
            out.append((headers, joined) if joined.count(CELL_SEPARATOR) == len(headers) - 1 else raw)
        else:
            out.append(raw)
    return out


def _fields(prepared: list[Prepared]) -> list[Any]:
    """Each row's ``fields``, or the tuple of its keys when its contact row holds them."""
    column = contact_columns()
    # Each set of keys as one tuple (pickled once a batch), or None: not all are columns.
    shared: dict[tuple[str, ...], tuple[str, ...] | None] = {}
    out: list[Any] = []
    for item in prepared:
        if item.row is None:
            out.append(item.fields)
            continue
        names = tuple(item.fields)
        if names in shared:
            one = shared[names]
        else:
            one = shared[names] = names if all(name in column for name in names) else None
        out.append(item.fields if one is None else one)
    return out


def unpack(packed: tuple[Any, ...]) -> list[Item]:
    """The batch :func:`pack` packed."""
    size, others, raws, fields, lines, emails, phones, tags, companies, folded, keys, searches, rows, sparse = packed
    custom, external, socials, notes, consents, warnings = (sparse[name] for name in SPARSE)
    zipped = zip(lines, raws, fields, emails, phones, tags, companies, folded, keys, searches, rows, strict=True)
    sparse_rows = {*custom, *external, *socials, *notes, *consents, *warnings}
    out: list[Item] = []
    j = 0
    for at in range(size):
        if at in others:
            out.append(others[at])
            continue
        line, raw, given, email, phone, tag, company, fold, key, search, row = next(zipped)
        made = type(given) is tuple
        if j in sparse_rows:
            out.append(
                Prepared(line, raw, {} if made else given, custom.get(j) or {}, email, phone, tag, company,
                         external.get(j) or [], socials.get(j) or [], notes.get(j) or [], consents.get(j) or {},
                         warnings.get(j) or [], fold, key, search, row, given if made else ())
            )  # fmt: skip
        else:  # most rows: none of the sparse fields (each row its own empty ones: the loader may add)
            out.append(
                Prepared(line, raw, {} if made else given, {}, email, phone, tag, company, [], [], [], {}, [],
                         fold, key, search, row, given if made else ())
            )  # fmt: skip
        j += 1
    return out
