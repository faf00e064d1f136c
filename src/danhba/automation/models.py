"""Workflows: a workflow, its immutable versions (the steps as a checked graph, ``graph.py``),
the contacts enrolled in a version, and the log of every step each enrolment ran.

How the engine uses them (``services/engine.py``): an active enrolment has the step it is at
and when that step is due; workers claim due enrolments (token + lease), run the step for a
whole batch, and in one transaction write the step's effects, its :class:`StepRun` (unique per
enrolment and position in the path: a repeated job cannot run a step twice) and the move to
the next step."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact


class Workflow(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        ARCHIVED = "archived", _("archived")

    class Reenrol(models.TextChoices):
        ONCE = "once", _("once only")
        AGAIN = "again", _("again when the trigger is true again")

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    # What enrols contacts (``triggers.py``): {"kind": …, …}. ``trigger_kind`` and
    # ``trigger_key`` (a segment id, an event name, a field) are derived on save so a hook finds
    # the workflows it can start with one indexed query.
    trigger = models.JSONField(_("trigger"), default=dict, blank=True)
    trigger_kind = models.CharField(max_length=30, blank=True, editable=False)
    trigger_key = models.CharField(max_length=200, blank=True, editable=False)
    reenrol = models.CharField(_("enrolment"), max_length=5, choices=Reenrol.choices, default=Reenrol.ONCE)
    # Sending window ({"days": [0..6], "start": "08:00", "end": "20:00", "tz": "Asia/Ho_Chi_Minh"},
    # Monday is 0), or {} for any time: an action step due outside it waits for the next window.
    window = models.JSONField(_("sending window"), default=dict, blank=True)
    # The version new enrolments start (the latest published one).
    current_version = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # The local day a daily trigger (no activity, a date) last enrolled for: the daily query
    # runs once a day per workflow however often its job runs.
    daily_done_on = models.DateField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["trigger_kind", "trigger_key", "status"], name="automation_wf_trigger")]

    def __str__(self) -> str:
        return self.name


class ImmutableVersion(Exception):
    pass


class WorkflowVersion(models.Model):
    """The steps of a workflow as published: never changed (editing a workflow publishes a new
    version; contacts finish the version they started)."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # {"start": step id, "steps": {id: {"kind", "params", "next"}}, "goal": tree|null,
    # "exit": tree|null} — checked by graph.graph_clean.
    graph = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="automation_version_unique")]

    def __str__(self) -> str:
        return f"{self.workflow_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ImmutableVersion("a workflow version is never changed; publish a new one")
        super().save(*args, **kwargs)

    def step(self, step_id: str) -> dict[str, Any] | None:
        steps: dict[str, Any] = self.graph.get("steps", {})
        return steps.get(step_id)


class Enrolment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("in progress")
        COMPLETED = "completed", _("completed")
        GOAL = "goal", _("reached the goal")
        EXITED = "exited", _("exited")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    id = models.BigAutoField(primary_key=True)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="enrolments")
    version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="enrolments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    step = models.CharField(_("step"), max_length=40, blank=True)
    # How many steps this enrolment has run: with the enrolment, the idempotency key of the next
    # one (StepRun's unique constraint; sends and webhook calls carry it too).
    seq = models.PositiveIntegerField(default=0)
    # Tries of the current step (a step that raised is tried again later, then fails).
    attempt = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    # A step's own state while it waits (wait_event: deadline; "event seen").
    state = models.JSONField(default=dict, blank=True)
    # The event an enrolment waits for (wait_event), so arriving events find it by index.
    waiting_for = models.CharField(max_length=200, blank=True)
    claim = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    via = models.CharField(max_length=20, blank=True)
    enrolled_at = models.DateTimeField(_("enrolled"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            # Never enrolled twice at once.
            models.UniqueConstraint(
                fields=["workflow", "contact"], condition=Q(status="active"), name="automation_enrolment_one_active"
            )
        ]
        indexes = [
            # The claim: active enrolments by due time (no scan of finished ones).
            models.Index(fields=["due_at"], condition=Q(status="active"), name="automation_enrolment_due"),
            models.Index(fields=["contact", "workflow"], name="automation_enrolment_contact"),
            models.Index(fields=["workflow", "status", "id"], name="automation_enrolment_list"),
            # The diagram's "at the step" and "retrying" (selectors.step_counts): the active ones
            # of a version by step, from the index alone, however many have finished.
            models.Index(
                fields=["version", "step", "attempt"], condition=Q(status="active"), name="automation_enrolment_at_step"
            ),
            models.Index(
                fields=["contact", "waiting_for"], condition=~Q(waiting_for=""), name="automation_enrolment_waiting"
            ),
        ]

    def __str__(self) -> str:
        return f"enrolment {self.pk} of contact {self.contact_id} in {self.workflow_id}"


class StepRun(models.Model):
    """One step one enrolment ran: the path a contact walked, and the idempotency key."""

    class Outcome(models.TextChoices):
        DONE = "done", _("done")
        WAITING = "waiting", _("waiting")
        SKIPPED = "skipped", _("skipped")
        ERROR = "error", _("error")
        GOAL = "goal", _("goal reached")
        EXITED = "exited", _("exited")

    id = models.BigAutoField(primary_key=True)
    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="runs")
    seq = models.PositiveIntegerField()
    step = models.CharField(max_length=40)
    kind = models.CharField(max_length=30)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    # Where the path went next, and what the step did (branch taken, tag, error text…).
    next_step = models.CharField(max_length=40, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        # Also the index of a contact's path (enrolment, seq).
        constraints = [models.UniqueConstraint(fields=["enrolment", "seq"], name="automation_steprun_unique")]


class StepCount(models.Model):
    """The per-step counts of a version (the diagram's entered / waiting / completed / errored),
    kept by the writes themselves in their transactions (``services/counts.py``) instead of
    recounted from every StepRun on each page: "entered" is each arrival at the step (an
    enrolment starting, a move to it), the other columns the StepRuns by outcome. A writer adds
    to its own ``shard`` so that several workers do not queue on one row; a read sums them."""

    id = models.BigAutoField(primary_key=True)
    version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="+")
    step = models.CharField(max_length=40)
    shard = models.PositiveSmallIntegerField(default=0)
    entered = models.BigIntegerField(default=0)
    done = models.BigIntegerField(default=0)
    waiting = models.BigIntegerField(default=0)
    skipped = models.BigIntegerField(default=0)
    error = models.BigIntegerField(default=0)
    goal = models.BigIntegerField(default=0)
    exited = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "step", "shard"], name="automation_stepcount_unique")]
