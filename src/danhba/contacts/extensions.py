"""What the apps above contacts add to the contact pages, the list and the exports.

Contacts shows a contact's purchases, consent, imports, events and orders, filters its list by
segment and purchase metrics, and exports purchase metrics — without importing the apps that
own them (the floor plan in shared/STYLE.md). Each of those apps adds its part to a registry
here in its ``AppConfig.ready()``; contacts walks the registries. ``danhba hooks`` lists what
each holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from danhba.core.hooks import Hook, Registry

if TYPE_CHECKING:
    from django import forms
    from django.http import HttpRequest

    from danhba.accounts.models import User
    from danhba.contacts.models import Contact

# --- the contact page ---------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """A panel of the contact page. ``context(request, contact)`` gives the template's context
    (merged into the page's), or None when the panel is not for this reader."""

    template: str
    context: Callable[[HttpRequest, Contact], dict[str, Any] | None]
    column: str = "side"  # "main": under the contact's sections; "side": under the timeline


CONTACT_PANELS: Registry[Panel] = Registry(
    "contacts.panels",
    doc="Panels of the contact page (purchases, consent, imports…), in position order per column.",
)


def panels_context(request: HttpRequest, contact: Contact) -> dict[str, Any]:
    """The registered panels a reader gets on a contact page: their templates by column (as
    ``panels_main`` and ``panels_side``) and their context, merged."""
    context: dict[str, Any] = {"panels_main": [], "panels_side": []}
    for panel in CONTACT_PANELS:
        values = panel.context(request, contact)
        if values is None:
            continue
        context.update(values)
        context["panels_main" if panel.column == "main" else "panels_side"].append(panel.template)
    return context


# --- the merged timeline ------------------------------------------------------------------

# A row's place in the merged timeline: (time, source rank, id), newest first.
TimelineKey = tuple[dt.datetime, int, int]


@dataclass(frozen=True)
class TimelineSource:
    """Rows of another app on a contact's timeline (events, orders). The timeline entries are
    rank 0; a source ranks its rows among those of the same instant. ``rows(contact, user,
    kind, before, limit)`` returns up to ``limit`` (key, item) pairs newest first, where
    ``before(column)`` is the condition that keeps the rows after the page's cursor; ``kind`` is
    "" (everything) or one of the source's ``kinds``. An item carries the ``template`` that
    shows it."""

    rank: int
    permission: tuple[str, str]  # (object, action) a reader needs to see the rows
    kinds: tuple[tuple[str, Any], ...]  # the "show only" choices the source adds: (value, label)
    rows: Callable[[Contact, User, str, Callable[[str], Q], int], list[tuple[TimelineKey, Any]]]
    footer: str = ""  # a template under the list (a link to more), for readers who may see the rows
    # How the API tells the source's items (GET /api/contacts/{id}/timeline): one row per item,
    # in order, for this reader (fields the reader may not see left out).
    describe: Callable[[list[Any], User], list[TimelineRow]] | None = None


@dataclass(frozen=True)
class TimelineRow:
    """A source's item as the API shows it: the ``kind`` that filters it, a one-line ``title``
    and ``detail`` (what the page shows), and the ``record`` as the source's own endpoint
    gives it (an event as ``/api/events`` lists it, an order as ``/api/orders/{id}``)."""

    kind: str
    title: str
    detail: str
    record: dict[str, Any]


TIMELINE_SOURCES: Registry[TimelineSource] = Registry(
    "contacts.timeline_sources",
    doc="Rows of other apps merged into a contact's timeline (events, orders), by rank.",
)


# --- the contact list ---------------------------------------------------------------------


@dataclass(frozen=True)
class ListFilter:
    """A filter of the contact list, the API's list and exports. ``parse(params, errors)``
    reads its query parameters (reasons go to ``errors`` by parameter) and returns its value, or
    None when it is not set; ``condition(value, user, prefix)`` is the condition on Contact with
    field paths under ``prefix`` (as ``selectors.filters_q``). ``fields(user)`` are the filter
    form's fields for this user (none when the role may not use the filter), shown after the
    form field ``after``. Exporting with the filter set needs ``export_permission`` too."""

    params: tuple[str, ...]
    parse: Callable[[Mapping[str, Any], dict[str, list[str]]], Any]
    condition: Callable[[Any, User, str], Q]
    fields: Callable[[User | None], dict[str, forms.Field]] = field(default=lambda user: {})
    after: str = ""
    export_permission: tuple[str, str] | None = None


CONTACT_LIST_FILTERS: Registry[ListFilter] = Registry(
    "contacts.list_filters",
    doc="Filters of the contact list, API and exports that other apps own (segment, purchases).",
)


@dataclass(frozen=True)
class ExportColumns:
    """Columns other apps add to contact exports. ``columns(user)`` are the ones this user gets
    (none without the permission); ``values(contact_ids)`` reads them for one page of contacts;
    a contact without values gets ``missing``."""

    columns: Callable[[User], list[str]]
    values: Callable[[list[int]], dict[int, dict[str, Any]]]
    missing: Mapping[str, Any] = field(default_factory=dict)


CONTACT_EXPORT_COLUMNS: Registry[ExportColumns] = Registry(
    "contacts.export_columns",
    doc="Columns other apps add to contact exports (purchase metrics).",
)


# --- merging contacts ---------------------------------------------------------------------


@dataclass(frozen=True)
class MergeTable:
    """How a merge of contacts (the quality app, ``quality/services/merge.py``) treats one table
    with a key to a contact, where its generic rule is wrong. The generic rule moves every row of
    the merged-away contacts to the survivor with one UPDATE per table; a row that would break a
    unique constraint with the survivor's (a segment membership both had) is removed, kept in
    the merge's record, and put back by undo. Every function gets the survivor's id and the
    merged-away ids; ``after`` and ``undone`` also what ``before`` returned (None without one).

    ``strategy``: "move" (the generic rule), "drop" (the merged-away contacts' rows are removed
    and kept for undo: derived rows the app computes again), or "keep" (left where they are: the
    insert-only consent ledger, which outlives its contact). ``before`` runs before the rows
    move and returns what ``undone`` will need (JSON); ``after`` runs once they have moved;
    ``undone`` runs at the end of an undo, when the rows are back."""

    strategy: str = "move"
    before: Callable[[int, list[int]], Any] | None = None
    after: Callable[[int, list[int], Any], None] | None = None
    undone: Callable[[int, list[int], Any], None] | None = None


MERGE_TABLES: Registry[MergeTable] = Registry(
    "contacts.merge_tables",
    doc="Tables with a key to a contact that a merge of contacts treats their own way, by "
    "'app_label.model' (consent, derived stats, one active enrolment per workflow).",
)

# A contact merged into another answers its old URL with the survivor's (quality keeps the
# tombstones): the listener returns the survivor's id, or None.
CONTACT_MOVED: Hook[[int], int | None] = Hook(
    "contacts.moved",
    doc="Called with the id of a contact that is not there; a listener returns the id of the "
    "contact it was merged into, or None. The contact page redirects there.",
)


# An undo that deletes the contacts it created (an import's) first asks which of them must stay:
# a survivor of a merge carries the merged-away contacts' rows (orders, events, deals) and the
# merge's undo needs it, so deleting it would take those rows with it.
CONTACTS_KEPT_ON_UNDO: Hook[[list[int]], Collection[int]] = Hook(
    "contacts.kept_on_undo",
    doc="Called with the ids of contacts an undo (of an import) is about to delete; a listener "
    "returns those that must stay because other contacts were merged into them (quality: "
    "survivors of a merge not undone). The undo keeps them and counts them in its report.",
)


# --- the contact list's actions on ticked contacts ------------------------------------------


@dataclass(frozen=True)
class ListAction:
    """A button of the contact list's bar for ticked contacts that another app serves: the
    ticked ids are POSTed (as ``ids``) to ``url_name``; shown to users with every permission in
    ``permissions`` ((object, action) pairs)."""

    label: Any
    url_name: str
    permissions: tuple[tuple[str, str], ...] = ()


CONTACT_LIST_ACTIONS: Registry[ListAction] = Registry(
    "contacts.list_actions",
    doc="Buttons of the contact list for the ticked contacts that other apps serve (merge).",
)
