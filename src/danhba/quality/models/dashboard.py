"""The data-quality dashboard's figures, computed by a job (``services/dashboard.py``) and
kept one row per day: the page and the API read the newest row, the charts over time read
the rows of past days (docs/decisions/0020-quality-decay-and-dashboard.md)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class QualitySnapshot(models.Model):
    day = models.DateField(unique=True)
    computed_at = models.DateTimeField(default=timezone.now)
    seconds = models.FloatField(default=0)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["-day"]
