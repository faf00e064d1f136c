"""Abstract models every app may build on (no tables of their own)."""

from __future__ import annotations

from typing import Any

from django.db import models


class ImmutableRowError(Exception):
    pass


class InsertOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableRowError("insert-only rows cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRowError("insert-only rows cannot be deleted")


class InsertOnlyModel(models.Model):
    """Rows that are proof once written (the audit log, the consent ledger): the ORM refuses to
    change or delete them; the tables' database triggers refuse too (see their migrations)."""

    objects = InsertOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ImmutableRowError(f"{type(self).__name__} rows cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableRowError(f"{type(self).__name__} rows cannot be deleted")
