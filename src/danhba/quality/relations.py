"""Every table with a key to a contact, found through Django's model meta (pure: reads no rows).

A merge must leave no row on a merged-away contact, in apps that quality does not know (and may
not import: they sit on its floor or above). So it walks every installed model, including the
tables Django makes for many-to-many fields, and takes each foreign key to ``Contact``. An app
whose table the generic rule would get wrong says so in ``contacts.extensions.MERGE_TABLES``."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import models
from django.db.models import Q

from danhba.contacts.extensions import MERGE_TABLES, MergeTable
from danhba.contacts.models import Contact


@dataclass(frozen=True)
class Unique:
    """A unique constraint over the contact key and ``others`` (attnames), for the rows that
    match ``condition`` (None: all rows)."""

    others: tuple[str, ...]
    condition: Q | None


@dataclass(frozen=True)
class Link:
    """One foreign key to Contact: ``model.field``. ``label`` is "app_label.model"."""

    model: type[models.Model]
    field: models.ForeignKey[models.Model, models.Model]
    uniques: tuple[Unique, ...]
    handling: MergeTable

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def key(self) -> str:
        return f"{self.label}.{self.field.name}"

    @property
    def attname(self) -> str:
        return self.field.attname

    @property
    def strategy(self) -> str:
        # A key that is the primary key cannot be followed by row id: its rows are derived
        # (the search entry, purchase stats); a table that keeps them says so.
        if self.handling.strategy == "move" and self.field.primary_key:
            return "drop"
        return self.handling.strategy


def _uniques(model: type[models.Model], field: models.Field[object, object]) -> tuple[Unique, ...]:
    found: list[Unique] = []
    names = {f.name: f.attname for f in model._meta.concrete_fields}
    sets: list[tuple[tuple[str, ...], Q | None]] = [(tuple(u), None) for u in model._meta.unique_together]
    for constraint in model._meta.constraints:
        fields = getattr(constraint, "fields", ())
        if isinstance(constraint, models.UniqueConstraint) and fields:
            sets.append((tuple(fields), constraint.condition))
    for fields, condition in sets:
        if field.name in fields:
            others = tuple(names[f] for f in fields if f != field.name)
            found.append(Unique(others=others, condition=condition))
    if field.unique and not field.primary_key:
        found.append(Unique(others=(), condition=None))
    return tuple(found)


def contact_links() -> tuple[Link, ...]:
    """Every foreign key to Contact in a table Django manages (the unmanaged FTS5 view of the
    search index follows its table), in a stable order."""
    links = []
    for model in apps.get_models(include_auto_created=True):
        if not model._meta.managed or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Contact and isinstance(field, models.ForeignKey):
                handling = MERGE_TABLES.get(model._meta.label_lower) or MergeTable()
                links.append(Link(model=model, field=field, uniques=_uniques(model, field), handling=handling))
    return tuple(sorted(links, key=lambda link: link.key))
