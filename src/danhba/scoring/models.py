"""Lead scoring: score models and their rules, each contact's score per model with the items
that make it up (so the breakdown adds up to the total), the score's history, and the contacts
whose score must be computed again (``ScoreDirty``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact


def default_grades() -> list[dict[str, Any]]:
    return [
        {"key": "cold", "label": "Cold", "min": 0},
        {"key": "warm", "label": "Warm", "min": 30},
        {"key": "hot", "label": "Hot", "min": 60},
    ]


class ScoreModel(models.Model):
    """A way of scoring contacts ("B2B fit", "Engagement"): rules, decay of engagement points,
    and grades (ordered thresholds on the total)."""

    class Decay(models.TextChoices):
        NONE = "none", _("No decay")
        HALF_LIFE = "half_life", _("Half-life")
        STEP = "step", _("Step-down")

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    decay = models.CharField(_("decay"), max_length=10, choices=Decay.choices, default=Decay.NONE)
    # Half-life: points halve every ``decay_days``. Step-down: they lose ``decay_percent`` % of
    # their value every ``decay_days``.
    decay_days = models.PositiveIntegerField(_("decay period (days)"), default=30)
    decay_percent = models.PositiveSmallIntegerField(_("step-down (%)"), default=25)
    # [{"key", "label", "min"}], ordered by "min": a total of at least "min" has that grade.
    grades = models.JSONField(_("grades"), default=default_grades)
    # Derived from the rules on every change (rules.dependencies): the contact change reasons
    # that can move a score of this model, and whether any event can ("event:*").
    depends_on = models.JSONField(default=list, blank=True, editable=False)
    # A full recompute (the model or its rules changed): asked at, claimed by a job (token and
    # lease), and its progress over the contacts in id order.
    recompute_requested_at = models.DateTimeField(null=True, blank=True)
    recompute_claim = models.CharField(max_length=32, blank=True, default="")
    recompute_claimed_until = models.DateTimeField(null=True, blank=True)
    recompute_cursor = models.BigIntegerField(default=0)
    recompute_done = models.PositiveIntegerField(default=0)
    recompute_total = models.PositiveIntegerField(default=0)
    recomputed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def recomputing(self) -> bool:
        return self.recompute_requested_at is not None


class ScoreRule(models.Model):
    """One rule of a model. ``fit``: ``points`` when the contact matches ``condition`` (a segment
    condition tree). ``engagement``: ``points`` per event that matches ``trigger``
    (rules.TRIGGERS), capped per rule and per period, fading with the model's decay.
    ``fast_track``: a contact that matches ``condition`` has the top grade whatever its total."""

    class Kind(models.TextChoices):
        FIT = "fit", _("Fit")
        ENGAGEMENT = "engagement", _("Engagement")
        FAST_TRACK = "fast_track", _("Fast-track")

    model = models.ForeignKey(ScoreModel, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    condition = models.JSONField(_("condition"), default=dict, blank=True)
    trigger = models.JSONField(_("trigger"), default=dict, blank=True)
    points = models.IntegerField(_("points"), default=0)
    # Engagement caps: at most ``max_points`` in all, at most ``period_max`` per ``period_days``.
    max_points = models.PositiveIntegerField(_("at most (points)"), null=True, blank=True)
    period_days = models.PositiveIntegerField(_("per period of (days)"), null=True, blank=True)
    period_max = models.PositiveIntegerField(_("at most per period (points)"), null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["model_id", "position", "id"]

    def __str__(self) -> str:
        return self.name


class ContactScore(models.Model):
    """A contact's score in one model, as last computed. A contact without a row has 0 points
    and the grade of 0."""

    id = models.BigAutoField(primary_key=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(ScoreModel, on_delete=models.CASCADE, related_name="scores")
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    fit = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    engagement = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # The sum of the contact's score adjustments (a workflow step, a user), after their decay.
    adjusted = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    grade = models.CharField(max_length=40, blank=True)
    fast_tracked = models.BooleanField(default=False)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "model"], name="contactscore_unique")]
        indexes = [
            models.Index(fields=["model", "total", "contact"], name="contactscore_model_total"),
            models.Index(fields=["model", "grade", "contact"], name="contactscore_model_grade"),
        ]


class ScoreAdjustment(models.Model):
    """Points given to (or taken from) a contact in one model outside the rules: by a workflow's
    "update score" step or by a user. A score is computed from scratch (decision 0012), so an
    adjustment is not added to the total once: it is a fact every computation reads, and shows
    as an item of the breakdown. It counts from ``at``, until ``expires_at`` if set, and fades
    with the model's decay when ``decays``. ``key`` makes a repeated write add nothing (a
    workflow step's "enrolment-seq")."""

    class Source(models.TextChoices):
        WORKFLOW = "workflow", _("workflow")
        MANUAL = "manual", _("by hand")

    id = models.BigAutoField(primary_key=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(ScoreModel, on_delete=models.CASCADE, related_name="adjustments")
    points = models.DecimalField(_("points"), max_digits=14, decimal_places=2)
    decays = models.BooleanField(_("fades like engagement"), default=False)
    at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("until"), null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    # A workflow's id and name and the step's id when it was given (scoring imports no
    # automation: the name is kept as it was).
    workflow_id = models.BigIntegerField(null=True, blank=True)
    workflow_name = models.CharField(max_length=200, blank=True)
    step = models.CharField(max_length=40, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    key = models.CharField(max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key"], condition=~models.Q(key=""), name="scoreadjustment_key")]
        indexes = [models.Index(fields=["contact", "model"], name="scoreadjustment_contact")]


class ScoreItem(models.Model):
    """One part of a score: a fit rule matched, an event an engagement rule counted (its id and
    time: events have no foreign key), a fast-track rule matched (0 points), or an adjustment
    (``rule`` empty). ``points`` after the caps, ``current`` after the decay at
    ``ContactScore.computed_at``: the ``current`` of a contact's items add up to its total
    exactly."""

    id = models.BigAutoField(primary_key=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(ScoreModel, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(ScoreRule, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    adjustment = models.ForeignKey(ScoreAdjustment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event_id = models.BigIntegerField(null=True, blank=True)
    event_name = models.CharField(max_length=200, blank=True)
    event_at = models.DateTimeField(null=True, blank=True)
    points = models.DecimalField(max_digits=14, decimal_places=2)
    current = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["contact", "model"], name="scoreitem_contact_model")]


class ScoreHistory(models.Model):
    """The score at the end of each day it changed (the contact page's chart)."""

    id = models.BigAutoField(primary_key=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(ScoreModel, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    total = models.DecimalField(max_digits=14, decimal_places=2)
    grade = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "model", "day"], name="scorehistory_unique")]


class ScoreDirty(models.Model):
    """A contact whose scores must be computed again. Writers insert here in their own
    transaction (the listener of ``contacts.changed``); the worker claims rows (token and
    lease: two workers never take the same row; a dead worker's rows are taken again when the
    lease runs out) and deletes them when done. A new mark clears the claim."""

    id = models.BigAutoField(primary_key=True)
    contact_id = models.BigIntegerField(unique=True)
    marked_at = models.DateTimeField(default=timezone.now)
    claim = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
