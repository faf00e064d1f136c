"""Transform: one source row → a clean candidate contact, or the reasons it cannot be one.

Pure Python, no writes: a :class:`Plan` is compiled once per import from its column mapping and
options (lookups of stages, owners, custom fields done up front), then :meth:`Plan.prepare`
runs per row. Every value goes through ``core.normalize``, the module the forms, the API and the
event collector use.

A value that cannot be read (an email without its @, a phone too short, a date that does not
exist) is left out and the row loads without it, with a warning saying what was left out and
why. A row is rejected only when it has no usable identity (:meth:`Prepared.identity_problem`)
or says something about consent that cannot be read. Other warnings (a likely email typo, a
province that could not be recognised) let the row load as it is. Reasons are kept untranslated
(:mod:`danhba.ingest.reasons`): the report is read later, in the reader's language.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import string
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from danhba.contacts.custom_fields import clean_value
from danhba.contacts.keys import name_key
from danhba.contacts.models import BuyerRole, CustomField, LifecycleStage, SocialProfile
from danhba.contacts.search import search_texts
from danhba.contacts.services.cleaning import MAX_LENGTHS
from danhba.contacts.writer import ContactRows
from danhba.core.memo import Memo
from danhba.core.normalize import (
    NAME_ORDER_VI,
    NAME_ORDER_WESTERN,
    NameReader,
    NormalizationError,
    clean_long_text,
    clean_text,
    date_of_clean,
    email_hinted_of_clean,
    fold,
    fold_clean,
    join_name_columns,
    name_case,
    parse_gender,
    phone_of_clean,
    phone_region,
    split_tags,
)
from danhba.core.vn import ProvinceMatch, province_from_text
from danhba.ingest.extract import Row
from danhba.ingest.reasons import Reason, reason

SHORT_TEXT = ("street", "ward", "occupation", "job_title", "education", "income_band", "country")
LONG_TEXT = ("family", "lifestyle", "hobbies", "preferences", "motivations", "likes", "dislikes")
NAME_PARTS = ("family_name", "middle_name", "given_name")
NAME_FIELDS = frozenset(("full_name", *NAME_PARTS))
_YES = {
    "1",
    "true",
    "yes",
    "y",
    "x",
    "co",
    "dong y",
    "granted",
    "ok",
    "v",
    "\u2713",
    "\u2714",
    "da dong y",
    "co dong y",
}
_NO = {"0", "false", "no", "n", "khong", "tu choi", "khong dong y", "withdrawn", "refused", "chua"}
_WARD = re.compile(r"^(phuong|xa|thi tran|dac khu|ward|commune|p\.?|x\.?)\s", re.IGNORECASE)
_DISTRICT = re.compile(r"^(quan|huyen|thi xa|district|q\.?|h\.?)\s*\d*\b", re.IGNORECASE)
_PHONE_SPLIT = re.compile(r"[;,/|\n]| - ")
_EMAIL_SPLIT = re.compile(r"[;,\s]+")
_NO_DATE = {"0/0/00", "0/0/0000", "00/00/0000", "00/00/00", "0000-00-00"}  # Outlook's and MySQL's "none"
# What a part of an address that names neither a ward nor a district may start with: the ASCII
# letters and digits that start none of ``_WARD``'s and ``_DISTRICT``'s names.
_NO_PLACE_INITIAL = frozenset(c for c in string.ascii_letters + string.digits if c.lower() not in "pxtdwcqh")
_NO_YEAR = re.compile(r"^--\d{1,2}-?\d{1,2}$")  # vCard / Google birthday without a year
# Distinct values a plan keeps the reading of, per column (and name words, address parts…): a
# million-row file holds about 40,000 distinct birthdays; anything rarer is read again.
CACHE_SIZE = 65_536
_NAME_MAX = tuple(MAX_LENGTHS[key] for key in ("full_name", "family_name", "middle_name", "given_name"))


@dataclass(slots=True)
class Issue:
    column: str
    value: str
    reason: Reason


def refusal(exc: ValueError) -> Reason:
    """The reason of a refused value, untranslated (any ``ValueError`` that is not a
    ``NormalizationError`` is kept as its text)."""
    return Reason.of_error(exc) if isinstance(exc, NormalizationError) else Reason(str(exc))


# A row with a name but whose every email and phone was refused: loading it would make a
# contact that the corrected file could never be matched to (names are not identity keys).
NO_KEY_LEFT = gettext_noop(
    "no valid email, phone or external id is left to recognise this person by; fix the row and import it again"
)
NO_IDENTITY = gettext_noop("a name, an email, a phone or an external id is required")
LEFT_OUT = gettext_noop("%(reason)s; the row is imported without this value")
PROVINCE_UNKNOWN = gettext_noop("province not recognised; kept in the address")
CELL_SEPARATOR = "\x1f"  # ASCII's unit separator: a row's cells joined into one text


@functools.cache
def contact_columns() -> dict[str, int]:
    """Where each column is in a contacts-table row (``ContactRows.column``)."""
    return ContactRows().column


@dataclass(slots=True)
class Prepared:
    """A row ready to load: contact columns, its identities and collections, warnings."""

    line: int
    # The row as read, by header; between the import's processes its cells in header order,
    # joined (``transport``): only a report of the row refused needs them (``cells``).
    raw: dict[str, str] | tuple[tuple[str, ...], str]
    fields: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)
    phones: list[tuple[str, str, str]] = field(default_factory=list)  # (e164, as typed, kind)
    tags: list[str] = field(default_factory=list)
    company: str = ""
    external_ids: list[tuple[str, str]] = field(default_factory=list)
    socials: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    consents: dict[int, str] = field(default_factory=dict)  # purpose id → granted / withdrawn
    warnings: list[Issue] = field(default_factory=list)
    folded_name: str = ""  # fold(fields["full_name"]): folded here, in the reading process
    # Made here too, from the row alone, for the loader to take as they are when the row becomes
    # a contact by itself (most rows): the name key, and the search entry's texts (None when
    # the row has no name, or the loader took an identity away from it).
    name_key: str = ""
    search: tuple[str, str, str, str] | None = None
    # The contacts-table row it would be as a new contact by itself (``ContactRows.make``), made
    # with the name key and search texts and dropped with them: the loader adds the id, the
    # import's source and defaults, and the write's time.
    row: list[Any] | None = None
    # Between the processes ``fields`` does not travel next to ``row``, which holds its values:
    # only its keys, in order; ``restore_fields`` makes it again when the loader needs it.
    field_keys: tuple[str, ...] = ()

    def cells(self) -> dict[str, str]:
        """The row as read, by header (what a refused row's report keeps)."""
        raw = self.raw
        if isinstance(raw, dict):
            return raw
        headers, joined = raw
        return dict(zip(headers, joined.split(CELL_SEPARATOR), strict=True))

    def restore_fields(self) -> None:
        """``fields`` again from ``row`` (the loader, before it reads them: the row is merged or
        updates a contact, or loses an identity and its row)."""
        if self.field_keys:
            row = self.row
            assert row is not None
            column = contact_columns()
            self.fields = {key: row[column[key]] for key in self.field_keys}
            self.field_keys = ()

    def identity_problem(self, lost_key: bool) -> str:
        """Why this row has no usable identity, or ``""``. Usable: a valid email, a valid phone or
        an external id (the keys an import finds a contact by); or, failing those, a name — but
        only when no email or phone of the row was left out as invalid (``lost_key``)."""
        if self.emails or self.phones or self.external_ids:
            return ""
        if lost_key:
            return NO_KEY_LEFT
        return "" if self.fields.get("full_name") else NO_IDENTITY


@dataclass(slots=True)
class Rejected:
    line: int
    raw: dict[str, str]
    errors: list[Issue]


class PlanError(ValueError):
    """The mapping or options cannot work (unknown target, unknown stage…): nothing is imported."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def _choice_key(text: str) -> str:
    """Stages and roles are found by key, English or Vietnamese name: "Khách hàng", "customer"."""
    return " ".join(fold(text).replace("_", " ").replace("-", " ").split())


def _choice_index(model: type[LifecycleStage] | type[BuyerRole]) -> dict[str, int]:
    index: dict[str, int] = {}
    for obj in model.objects.filter(is_active=True):
        for text in (obj.key, obj.name, obj.name_vi):
            if text:
                index[_choice_key(text)] = obj.pk
    return index


def _option_bool(value: object) -> tuple[bool, bool]:
    """An option's yes or no, and whether it read as one (``True``, ``"yes"``, ``"0"``…)."""
    if isinstance(value, bool):
        return value, True
    text = str(value).lower()
    return text in ("1", "true", "yes"), text in ("1", "0", "true", "false", "yes", "no")


def _gender_map_ok(mapping: object) -> bool:
    return isinstance(mapping, dict) and all(
        isinstance(k, str) and v in ("female", "male", "other", "") for k, v in mapping.items()
    )


def _known_target(target: str, known: Mapping[str, Collection[str]]) -> bool:
    """A ``custom.``, ``social.`` or ``consent.`` target whose key exists."""
    kind, _dot, key = target.partition(".")
    return kind in known and key in known[kind]


class Plan:
    """Compiled column mapping + options of one import."""

    def __init__(
        self,
        columns: Mapping[str, str],
        options: Mapping[str, Any],
        headers: list[str] | None = None,
        *,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        # In the file's column order (a JSON column on PostgreSQL does not keep key order).
        order = {h: i for i, h in enumerate(headers or [])}
        self.columns = {h: t for h, t in sorted(columns.items(), key=lambda item: order.get(item[0], len(order))) if t}
        self.options = dict(options)
        errors: dict[str, list[str]] = {}
        self._read_options(errors)
        self._look_up()
        errors.update(self._column_errors())
        self._read_defaults(errors)
        if errors:
            raise PlanError(errors)
        self.required_custom = [k for k, f in self.custom_fields.items() if f.required]
        self.today = timezone.localdate()
        self.cache_size = cache_size
        self._rows: ContactRows | None = None
        self._compile()

    # --- compiled once per import: options, lookups, columns ---------------------------------

    def _read_options(self, errors: dict[str, list[str]]) -> None:
        """How the file's values read: name order, dates, genders, tags, several values a cell."""
        options = self.options
        self.name_order = options.get("name_order") or NAME_ORDER_VI
        if self.name_order not in (NAME_ORDER_VI, NAME_ORDER_WESTERN):
            errors["name_order"] = [_("must be one of %(choices)s") % {"choices": "vi, western"}]
        given_words = str(options.get("given_words") or 1)
        self.given_words = int(given_words) if given_words in ("1", "2", "3") else 1
        if given_words not in ("1", "2", "3"):
            errors["given_words"] = [_("must be 1, 2 or 3")]
        self.day_first, readable = _option_bool(options.get("day_first", True))
        if not readable:
            errors["day_first"] = [_("must be true or false")]
        self.gender_map = options.get("gender_map") or None
        if self.gender_map is not None and not _gender_map_ok(self.gender_map):
            errors["gender_map"] = [_("must map values to female, male, other or nothing")]
            self.gender_map = None
        self.tag_delimiters = str(options.get("tag_delimiters") or ",;|")
        self.tag_ignore = {fold(t) for t in options.get("tag_ignore") or []}
        self.multi_separator = options.get("multi_value_separator") or ""
        self.external_system = clean_text(options.get("external_id_system") or "import")[:60]

    def _look_up(self) -> None:
        """The database's choices a cell can name: stages, roles, users, custom fields, purposes."""
        from danhba.accounts.models import User
        from danhba.privacy.models import ConsentPurpose

        self.stages = _choice_index(LifecycleStage)
        self.roles = _choice_index(BuyerRole)
        self.users = {email.lower(): pk for pk, email in User.objects.filter(is_active=True).values_list("pk", "email")}
        self.custom_fields = {
            f.key: f for f in CustomField.objects.filter(entity=CustomField.Entity.CONTACT, is_active=True)
        }
        self.purposes = dict(ConsentPurpose.objects.filter(is_active=True).values_list("key", "pk"))

    def _column_errors(self) -> dict[str, list[str]]:
        """Columns that go nowhere known, then two columns into one single-valued target."""
        from danhba.ingest.fields import STANDARD_KEYS, is_multi

        networks = set(SocialProfile.Network.values)
        known = {"custom": self.custom_fields, "social": networks, "consent": self.purposes}
        problems = [
            _("column '%(column)s': unknown target '%(target)s'") % {"column": header, "target": target}
            for header, target in self.columns.items()
            if target not in STANDARD_KEYS and not _known_target(target, known)
        ]
        singles: dict[str, str] = {}
        for header, target in self.columns.items():
            if not is_multi(target) and target in singles:
                problems.append(
                    _("'%(a)s' and '%(b)s' both go into %(target)s")
                    % {"a": singles[target], "b": header, "target": target}
                )
            singles.setdefault(target, header)
        return {"columns": problems} if problems else {}

    def _read_defaults(self, errors: dict[str, list[str]]) -> None:
        """What the import gives every contact it makes: stage, owner, tags, a static list."""
        self.default_stage: int | None = None
        if stage := self.options.get("lifecycle_stage"):
            self.default_stage = self.stages.get(_choice_key(stage))
            if self.default_stage is None:
                errors["lifecycle_stage"] = [_("unknown lifecycle stage '%(value)s'") % {"value": stage}]
        self.default_owner: int | None = None
        if owner := self.options.get("owner"):
            self.default_owner = self._option_owner(str(owner))
            if self.default_owner is None:
                errors["owner"] = [_("no such active user")]
        self.add_tags = split_tags(self.options.get("add_tags") or [])
        self.add_to_list: int | None = None
        if target_list := self.options.get("add_to_list"):
            from danhba.segments.models import Segment

            found = Segment.objects.filter(pk=int(target_list) if str(target_list).isdigit() else 0, kind="static")
            self.add_to_list = found.values_list("pk", flat=True).first()
            if self.add_to_list is None:
                errors["add_to_list"] = [_("no such static list")]

    def _option_owner(self, owner: str) -> int | None:
        """An active user by email, or by id."""
        by_email = self.users.get(owner.lower())
        if by_email:
            return by_email
        return int(owner) if owner.isdigit() and int(owner) in self.users.values() else None

    # --- per row ------------------------------------------------------------------------------

    def prepare(self, row: Row) -> Prepared | Rejected | None:
        """The candidate of one row; ``None`` for a row with nothing in its mapped columns.

        Every cell is read as clean text (``clean_text(value) == value``), as ``extract`` gives
        it (``Row.clean``): the readers below take the entry points of ``core.normalize`` that do
        not check it again. A row made otherwise is cleaned first."""
        values = row.values if row.clean else {key: clean_text(value) for key, value in row.values.items()}
        out = Prepared(row.line, row.as_read)
        pending = _Pending()
        if self._read_cells(values, out, pending):
            return None
        left_out = pending.left_out
        if pending.names:
            self._names(out, pending.names, left_out)
        if pending.address or pending.province:
            self._address(out, pending)
        lost_key = bool(left_out) and any(self.columns.get(i.column) in ("email", "phone") for i in left_out)
        errors = pending.errors
        if problem := out.identity_problem(lost_key):
            errors.append(Issue("", "", reason(problem)))
        if errors:
            return Rejected(row.line, out.cells(), [*left_out, *errors])
        if left_out:
            out.warnings[:0] = [Issue(i.column, i.value, reason(LEFT_OUT, reason=i.reason)) for i in left_out]
        if full := out.fields.get("full_name"):
            self._keys(out, full)
        return out

    def _read_cells(self, values: Mapping[str, str], out: Prepared, pending: _Pending) -> bool:
        """Each mapped cell of the row into ``out``, or kept in ``pending`` for the end of the
        row; whether the row had nothing in its mapped columns."""
        fields = out.fields
        empty = True
        for header, kind, field_name, memo, handle, to_errors in self._cells:
            value = values.get(header)
            if not value:
                continue
            empty = False
            # The commonest cells are handled here, without a call: a value read before with
            # nothing to say (``_MEMO``), a name, an address or a province kept for the end.
            if kind is _MEMO:
                if (cell := memo[value]).plain:  # type: ignore[index]
                    fields[field_name] = cell.value
                    continue
            elif kind is _NAME:
                pending.names[field_name] = value
                continue
            elif kind is _ADDRESS:
                pending.address = value
                continue
            elif kind is _PROVINCE:
                pending.province, pending.province_column = value, header
                continue
            try:
                handle(out, pending, header, value)
            except ValueError as exc:
                # An unreadable answer about consent is never guessed at, nor left out while the
                # import's own consent statement would still be recorded for this person.
                (pending.errors if to_errors else pending.left_out).append(Issue(header, value, refusal(exc)))
        return empty

    def _keys(self, out: Prepared, full: str) -> None:
        """A named row's name key, search texts and contact row (see ``Prepared``)."""
        folded = out.folded_name or None
        out.name_key = name_key(full, folded=folded)
        companies = (out.company,) if out.company else ()
        out.search = search_texts(full, out.emails, [p[0] for p in out.phones], companies, folded)
        out.row = self._contact_row(out)

    def _contact_row(self, out: Prepared) -> list[Any]:
        """The row of a contact made of this row alone, by the writer's rule: the values the
        loader's first row of a new contact takes (``load._first_row``: the name parts only
        when not empty, others when not None) over the defaults. ``prepare`` stores no None in
        ``fields``, and an empty name part is its column's default (""): the fields are those
        values as they are."""
        if self._rows is None:
            self._rows = ContactRows()
        values = out.fields
        if out.custom and (custom := {k: v for k, v in out.custom.items() if v is not None}):
            values = {**values, "custom": custom}
        return self._rows.make(values, key=out.name_key, email=out.emails[0] if out.emails else "",
                               phone=out.phones[0][0] if out.phones else "")  # fmt: skip

    # --- compiled once per import: what each column does with its cell -----------------------

    def _compile(self) -> None:
        """Each mapped column's handler, in the file's order. A column whose cell is read from its
        text alone (dates, genders, stages, tags, notes, short texts, consent answers) reads each
        distinct text once (:class:`_Cell`, kept in a :class:`Memo` of the column); names,
        provinces and address parts are read word by word or part by part; emails, phones and ids,
        nearly all different, are read every time."""
        self._cells: list[tuple[str, object, str, Memo[str, _Cell] | None, Handler, bool]] = []
        for header, target in self.columns.items():
            field_name, memo, handle = self._handler(header, target)
            kind = _MEMO if memo is not None else _KINDS.get(target, _CALL)
            if kind is _NAME:
                field_name = target
            self._cells.append((header, kind, field_name, memo, handle, target.startswith("consent.")))
        self._name_reader = NameReader(self.name_order, given_words=self.given_words, size=self.cache_size)
        self._provinces: Memo[str, ProvinceMatch | None] = Memo(province_from_text, self.cache_size)
        self._folds: Memo[str, str] = Memo(fold, self.cache_size)
        self._address_parts: Memo[str, tuple[bool, bool]] = Memo(_address_part, self.cache_size)
        self._phone_region = phone_region()

    def _handler(self, header: str, target: str) -> tuple[str, Memo[str, _Cell] | None, Handler]:
        """The column's handler; for a column read from its text alone whose value is a contact
        field, the field and the memo of its readings too (``prepare`` stores those itself)."""
        if target in NAME_FIELDS or target in ("address", "province"):
            return "", None, _kept  # kept by ``prepare`` itself for the end of the row
        direct: dict[str, Handler] = {
            "email": self._emails,
            "phone": self._phones,
            "external_id": self._external_id,
        }
        if target in direct:
            return "", None, direct[target]
        kind, _dot, key = target.partition(".")
        if kind == "social":
            return "", None, functools.partial(_social, key)
        if kind == "custom":
            return "", None, functools.partial(self._custom, key)
        read, field_name, store = self._by_value(target)
        memo: Memo[str, _Cell] = Memo(functools.partial(_read_cell, read, header), self.cache_size)
        store = store or functools.partial(_store_field, field_name)
        handle = functools.partial(_apply_cell, memo, store, target.startswith("consent."))
        return field_name, (memo if field_name else None), handle

    def _by_value(self, target: str) -> tuple[Reader, str, Store | None]:
        """How a column read from its text alone reads a cell, and where the value goes: the
        contact field it is, or else what stores it."""
        if target in SHORT_TEXT:
            return functools.partial(self._short, target), target, None
        if target in LONG_TEXT:
            return _long_text, target, None
        if target.startswith("consent."):
            return _consent, "", functools.partial(_store_consent, self.purposes[target[8:]])
        readers: dict[str, tuple[Reader, str, Store | None]] = {
            "birthday": (self._birthday, "birthday", None),
            "gender": (self._gender, "gender", None),
            "lifecycle_stage": (self._stage, "lifecycle_stage_id", None),
            "buyer_role": (self._role, "buyer_role_id", None),
            "owner": (self._owner, "owner_id", None),
            "company": (_company, "", _store_company),
            "tags": (self._tags, "", _store_tags),
            "note": (_long_text, "", _store_note),
        }
        return readers[target]

    # --- reading cells -------------------------------------------------------------------------

    def _emails(self, out: Prepared, pending: _Pending, header: str, value: str) -> None:
        """Each address of the cell on its own: one bad address does not lose the good ones."""
        one = value.count("@") < 2 and not (self.multi_separator and self.multi_separator in value)
        for item, text in [(value, value)] if one else self._parts(value, "email"):
            try:
                email, hint = email_hinted_of_clean(text)
            except NormalizationError as exc:
                pending.left_out.append(Issue(header, item, refusal(exc)))
                continue
            if email not in out.emails:
                out.emails.append(email)
            if hint:
                out.warnings.append(Issue(header, item, Reason.of_error(hint)))

    def _phones(self, out: Prepared, pending: _Pending, header: str, value: str) -> None:
        one = not (self.multi_separator and self.multi_separator in value) and _PHONE_SPLIT.search(value) is None
        for item, text in [(value, value)] if one else self._parts(value, "phone"):
            try:
                phone = phone_of_clean(text, self._phone_region)
            except NormalizationError as exc:
                pending.left_out.append(Issue(header, item, refusal(exc)))
                continue
            if not out.phones or all(p[0] != phone.e164 for p in out.phones):
                out.phones.append((phone.e164, text[:40], phone.kind))

    def _parts(self, value: str, kind: str) -> list[tuple[str, str]]:
        """The values of a cell that holds several (``_multi``), each as typed and cleaned. A cell
        of one value (most cells) is that value, clean already."""
        return [(item, clean_text(item)) for item in self._multi(value, kind)]

    def _external_id(self, out: Prepared, pending: _Pending, header: str, value: str) -> None:
        out.external_ids.append((self.external_system, clean_text(value)[:200]))

    def _custom(self, key: str, out: Prepared, pending: _Pending, header: str, value: str) -> None:
        out.custom[key] = clean_value(self.custom_fields[key], value)

    def _multi(self, value: str, kind: str) -> list[str]:
        """Several values in one cell: the file's own separator (Google's " ::: "), else the
        separators people type between phone numbers or email addresses."""
        if self.multi_separator and self.multi_separator in value:
            parts = value.split(self.multi_separator)
        elif kind == "phone" and _PHONE_SPLIT.search(value):
            parts = _PHONE_SPLIT.split(value)
        elif kind == "email" and value.count("@") > 1:
            parts = _EMAIL_SPLIT.split(value)
        else:
            parts = [value]
        return [p.strip() for p in parts if p.strip()]

    def _short(self, target: str, value: str, warnings: list[Reason]) -> str:
        text = clean_text(value)
        if target == "country":
            text = text.upper()
            if text in ("VIET NAM", "VIỆT NAM", "VIETNAM"):
                text = "VN"
            if len(text) != 2 or not text.isalpha():
                raise NormalizationError(gettext_noop("must be a two-letter country code"))
        limit = MAX_LENGTHS.get(target, 10_000)
        if len(text) > limit:
            raise NormalizationError(gettext_noop("at most %(n)s characters"), {"n": limit})
        return text

    def _birthday(self, value: str, warnings: list[Reason]) -> dt.date | None:
        if _NO_YEAR.match(value):
            warnings.append(reason(gettext_noop("a birthday without a year cannot be stored")))
            return None
        if value in _NO_DATE:
            return None
        try:
            date = date_of_clean(value, day_first=self.day_first)
        except NormalizationError:
            # "12/31/1978" cannot be day first: read it month first, and say so.
            try:
                date = date_of_clean(value, day_first=not self.day_first)
            except NormalizationError:
                order = "dd/mm/yyyy" if self.day_first else "mm/dd/yyyy"
                raise NormalizationError(
                    gettext_noop("'%(value)s' is not a real date (dates are read as %(order)s)"),
                    {"value": value, "order": order},
                ) from None
            read_as = gettext_noop("read as day/month/year")
            if self.day_first:
                read_as = gettext_noop("read as month/day/year")
            warnings.append(reason(read_as))
        if date > self.today or date.year < 1900:
            raise NormalizationError(gettext_noop("must be a past date after 1900"))
        return date

    def _gender(self, value: str, warnings: list[Reason]) -> str:
        return parse_gender(value, self.gender_map)

    def _stage(self, value: str, warnings: list[Reason]) -> int:
        return self._lookup(self.stages, value, gettext_noop("unknown lifecycle stage '%(value)s'"))

    def _role(self, value: str, warnings: list[Reason]) -> int:
        return self._lookup(self.roles, value, gettext_noop("unknown buyer role '%(value)s'"))

    def _owner(self, value: str, warnings: list[Reason]) -> int:
        owner = self.users.get(clean_text(value).lower())
        if owner is None:
            raise NormalizationError(gettext_noop("no active user with this email"))
        return owner

    def _tags(self, value: str, warnings: list[Reason]) -> tuple[str, ...]:
        tags = split_tags(self._multi(value, "tags"), self.tag_delimiters)
        return tuple(tag for tag in tags if fold(tag) not in self.tag_ignore)

    @staticmethod
    def _lookup(index: dict[str, int], value: str, msgid: str) -> int:
        key = _choice_key(value)
        if key not in index:
            raise NormalizationError(msgid, {"value": clean_text(value)})
        return index[key]

    # --- what needs the whole row ------------------------------------------------------------

    def _names(self, out: Prepared, names: dict[str, str], left_out: list[Issue]) -> None:
        full = names.get("full_name", "")
        if len(names) > bool(
            full
        ):  # separate columns (names holds non-blank values only); a full name wins for display
            family = name_case(names.get("family_name", ""))
            middle = name_case(names.get("middle_name", ""))
            given = name_case(names.get("given_name", ""))
            if family and " " in family and "middle_name" not in self.columns.values():
                # A "Họ đệm" column: "Nguyễn Văn" is family Nguyễn, middle Văn.
                family, _sp, rest = family.partition(" ")
                middle = rest
            full = name_case(full) if full else join_name_columns(family, middle, given, self.name_order)
            folded = fold(full)
        elif full:
            full, family, middle, given, folded = self._name_reader.read_clean(full)
        else:
            return
        full_max, family_max, middle_max, given_max = _NAME_MAX
        if len(full) > full_max or len(family) > family_max or len(middle) > middle_max or len(given) > given_max:
            self._name_too_long(full, family, middle, given, left_out)
            return
        out.fields.update(full_name=full, family_name=family, middle_name=middle, given_name=given)
        out.folded_name = folded

    def _name_too_long(self, full: str, family: str, middle: str, given: str, left_out: list[Issue]) -> None:
        for key, text in (("full_name", full), ("family_name", family), ("middle_name", middle), ("given_name", given)):
            if len(text) > MAX_LENGTHS[key]:
                column = next((h for h, t in self.columns.items() if t in (key, "full_name")), "")
                too_long = reason(gettext_noop("at most %(n)s characters"), n=str(MAX_LENGTHS[key]))
                left_out.append(Issue(column, text, too_long))
                return

    def _address(self, out: Prepared, pending: _Pending) -> None:
        """Province from its own column or from the end of a full address; ward and street from
        the address's other parts. What cannot be recognised is kept as typed in ``address_raw``."""
        address, province = pending.address, pending.province
        match = self._provinces[province] if province else None
        if province and match is None:
            out.warnings.append(Issue(pending.province_column, province, reason(PROVINCE_UNKNOWN)))
        if address:
            match = self._address_parts_into(out.fields, address, match)
        if match is not None:
            out.fields["province"] = match.key
        raw = [address] if address else []
        if province and not (address and self._folds[province] in fold_clean(address)):
            raw.append(province)
        if raw:
            out.fields["address_raw"] = ", ".join(raw)

    def _address_parts_into(
        self, fields: dict[str, Any], address: str, match: ProvinceMatch | None
    ) -> ProvinceMatch | None:
        """The ward and the street of a full address into ``fields``; the province it ends with
        when its own column named none (a last part that names one is no street)."""
        provinces = self._provinces
        segments = [s.strip() for s in address.split(",") if s.strip()]
        if segments and (match is None or provinces[segments[-1]]):
            last = provinces[segments[-1]]
            if last is not None:
                segments.pop()
                if match is None:
                    match = last
        street_parts = []
        for segment in segments:
            ward, district = self._address_parts[segment]
            if ward and "ward" not in fields:
                fields["ward"] = segment[:120]
            elif not district:
                street_parts.append(segment)
        if street_parts and "street" not in fields:
            fields["street"] = ", ".join(street_parts)[:255]
        return match


# --- the cells of one row ----------------------------------------------------------------------


class _Pending:
    """What a row's cells leave for after the last cell: name parts, address and province (read
    together), values left out and errors."""

    __slots__ = ("address", "errors", "left_out", "names", "province", "province_column")

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.address = self.province = self.province_column = ""
        self.left_out: list[Issue] = []
        self.errors: list[Issue] = []


Handler = Callable[[Prepared, _Pending, str, str], None]
Reader = Callable[[str, list[Reason]], Any]  # a cell's text → its value (warnings added to the list)
Store = Callable[[Prepared, Any], None]


class _Cell(NamedTuple):
    """What a cell read from its text alone puts into its row: its value (``None``: nothing),
    warnings, or why it was refused. Shared by every row with the same text in that column, so
    nothing in it is ever changed (a tuple: made once per distinct text, cheaper than a frozen
    dataclass)."""

    value: Any = None
    warnings: tuple[Issue, ...] = ()
    refused: Issue | None = None
    plain: bool = False  # a value, no warning, not refused: all there is to do is store it


def _read_cell(read: Reader, header: str, value: str) -> _Cell:
    warnings: list[Reason] = []
    try:
        result = read(value, warnings)
    except ValueError as exc:
        return _Cell(None, tuple(Issue(header, value, w) for w in warnings), Issue(header, value, refusal(exc)))
    return _Cell(result, tuple(Issue(header, value, w) for w in warnings), plain=result is not None and not warnings)


def _apply_cell(memo: Memo[str, _Cell], store: Store, to_errors: bool, out: Prepared, pending: _Pending, header: str,
                value: str) -> None:  # fmt: skip
    cell = memo[value]
    if cell.warnings:
        out.warnings.extend(cell.warnings)
    if cell.refused is not None:
        (pending.errors if to_errors else pending.left_out).append(cell.refused)
    elif cell.value is not None:
        store(out, cell.value)


# What ``prepare`` does with a column's cell: store the reading of its memo, keep a name part, the
# address or the province for the end of the row, or call the column's handler.
_MEMO, _NAME, _ADDRESS, _PROVINCE, _CALL = object(), object(), object(), object(), object()
_KINDS = {**dict.fromkeys(NAME_FIELDS, _NAME), "address": _ADDRESS, "province": _PROVINCE}


def _kept(out: Prepared, pending: _Pending, header: str, value: str) -> None:
    raise AssertionError("a name, address or province cell is kept by Plan.prepare")  # pragma: no cover


def _social(network: str, out: Prepared, pending: _Pending, header: str, value: str) -> None:
    out.socials.append((network, clean_text(value)[:255]))


def _long_text(value: str, warnings: list[Reason]) -> str:
    return clean_long_text(value)


def _company(value: str, warnings: list[Reason]) -> str:
    return clean_text(value)[:200]


def _consent(value: str, warnings: list[Reason]) -> str:
    key = " ".join(fold(value).replace(".", " ").split())
    if key in _YES:
        return "granted"
    if key in _NO:
        return "withdrawn"
    raise NormalizationError(gettext_noop("not a yes/no answer (use Có / Không)"))


def _address_part(segment: str) -> tuple[bool, bool]:
    """Whether a part of an address names a ward, and whether it names a district. A part that
    starts with an ASCII letter or digit no ward or district name starts with ("Số 12 Lê Lợi",
    "12 Lê Lợi": most streets) names neither, without folding it: such a character folds to
    itself lower-cased, first in the fold (a test holds this to the full reading)."""
    if segment[:1] in _NO_PLACE_INITIAL:
        return False, False
    return _address_part_folded(segment)


def _address_part_folded(segment: str) -> tuple[bool, bool]:
    folded = fold(segment)
    return bool(_WARD.match(folded)), bool(_DISTRICT.match(folded))


def _store_field(key: str, out: Prepared, value: Any) -> None:
    out.fields[key] = value


def _store_company(out: Prepared, value: str) -> None:
    out.company = value


def _store_note(out: Prepared, value: str) -> None:
    out.notes.append(value)


def _store_consent(purpose: int, out: Prepared, value: str) -> None:
    out.consents[purpose] = value


def _store_tags(out: Prepared, tags: tuple[str, ...]) -> None:
    for tag in tags:
        if tag not in out.tags:
            out.tags.append(tag[:80])
