"""Pipelines of ordered stages, deals moving through them, their product lines, the reasons a
deal is lost and the history of the stages a deal went through (the time spent in each).

Money: a deal's ``value`` is in its ``currency``; ``value_vnd`` (value × rate) is what the
forecast and the reports add up, so deals in several currencies sum in one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Company, Contact, LabelledChoice
from danhba.orders.models import Product

HOME_CURRENCY = "VND"


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    # Chance (0–100 %) that a deal in this stage is won: the forecast weighs its value by it.
    probability = models.PositiveSmallIntegerField(_("win probability"), default=0)
    kind = models.CharField(_("kind"), max_length=4, choices=Kind.choices, default=Kind.OPEN)

    class Meta:
        ordering = ["pipeline_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="sales_stage_name_unique"),
            # One won and one lost end stage per pipeline.
            models.UniqueConstraint(
                fields=["pipeline", "kind"], condition=~models.Q(kind="open"), name="sales_stage_one_end_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LostReason(LabelledChoice):
    """Why a deal was lost: an admin-managed list (seeded with the usual five)."""

    class Meta(LabelledChoice.Meta):
        verbose_name = _("lost reason")


class DealQuerySet(models.QuerySet["Deal"]):
    def visible_to(self, user: Any) -> DealQuerySet:
        """The deals a user's role may see: its record scope over the deal's owner, as for
        contacts (own and unassigned, the team's and unassigned, or all)."""
        from danhba.accounts import permissions as perms

        if not user.can("deal", perms.VIEW):
            return self.none()
        scope = perms.record_scope_q(user)
        return self if scope is None else self.filter(scope)


class Deal(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    title = models.CharField(_("title"), max_length=200)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    status = models.CharField(_("status"), max_length=4, choices=Status.choices, default=Status.OPEN)
    primary_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="primary_deals"
    )
    contacts = models.ManyToManyField(Contact, blank=True, related_name="deals")
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=2, default=Decimal(0))
    currency = models.CharField(_("currency"), max_length=3, default=HOME_CURRENCY)
    # VND per unit of ``currency`` when the deal was last valued (1 for VND).
    rate = models.DecimalField(_("exchange rate"), max_digits=18, decimal_places=6, default=Decimal(1))
    value_vnd = models.DecimalField(_("value (VND)"), max_digits=20, decimal_places=2, default=Decimal(0))
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    source = models.CharField(_("source"), max_length=60, blank=True)
    lost_reason = models.ForeignKey(LostReason, null=True, blank=True, on_delete=models.PROTECT, related_name="deals")
    lost_note = models.TextField(_("lost note"), blank=True)
    # The price list its product lines take prices from (None: the contact's applicable one).
    price_list = models.ForeignKey(
        "sales.PriceList", null=True, blank=True, on_delete=models.SET_NULL, related_name="deals",
        verbose_name=_("price list"),
    )  # fmt: skip
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    stage_entered_at = models.DateTimeField(_("in stage since"), default=timezone.now)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["stage", "id"], name="sales_deal_stage_id"),
            models.Index(fields=["status", "expected_close"], name="sales_deal_status_close"),
            models.Index(fields=["owner", "status", "id"], name="sales_deal_owner_status_id"),
            models.Index(fields=["status", "closed_at"], name="sales_deal_status_closed"),
        ]

    def __str__(self) -> str:
        return self.title


class DealLine(models.Model):
    """A product line of a deal: total = quantity × price − discount (an amount, in the deal's
    currency)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(_("name"), max_length=300)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    price = models.DecimalField(_("price"), max_digits=18, decimal_places=2, default=Decimal(0))
    discount = models.DecimalField(_("discount"), max_digits=18, decimal_places=2, default=Decimal(0))
    # The price list its price came from (None: typed, or the product's list price).
    price_list = models.ForeignKey(
        "sales.PriceList", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("price list"),
    )  # fmt: skip

    class Meta:
        ordering = ["deal_id", "position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def total(self) -> Decimal:
        return self.quantity * self.price - self.discount


class DealStageChange(models.Model):
    """A deal's stay in one stage: entered, left (None while it is there) and who moved it."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    stage = models.ForeignKey(Stage, null=True, on_delete=models.SET_NULL, related_name="+")
    stage_name = models.CharField(max_length=120)
    entered_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    moved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["deal_id", "entered_at", "id"]
        indexes = [models.Index(fields=["deal", "entered_at", "id"], name="sales_stagechange_deal")]

    def duration(self, now: dt.datetime | None = None) -> dt.timedelta:
        return (self.left_at or now or timezone.now()) - self.entered_at


class Task(models.Model):
    """A task or an appointment (a meeting has a duration) about a contact or a deal."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        EMAIL = "email", _("Email")
        MEETING = "meeting", _("Meeting")
        FOLLOW_UP = "follow_up", _("Follow-up")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")

    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.FOLLOW_UP)
    priority = models.CharField(_("priority"), max_length=6, choices=Priority.choices, default=Priority.NORMAL)
    notes = models.TextField(_("notes"), blank=True)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    due_at = models.DateTimeField(_("due"))
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), default=0)
    remind_before_minutes = models.PositiveIntegerField(_("remind before (minutes)"), null=True, blank=True)
    # due_at − remind_before: what the reminder job looks for (None: no reminder).
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    # A workflow step's idempotency key (enrolment-seq): one task per step run.
    key = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["key"], condition=~models.Q(key=""), name="sales_task_key")]
        indexes = [
            models.Index(fields=["owner", "done_at", "due_at"], name="sales_task_owner_due"),
            models.Index(
                fields=["remind_at"], name="sales_task_remind_due",
                condition=models.Q(reminded_at__isnull=True, done_at__isnull=True, remind_at__isnull=False),
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.title


class Notification(models.Model):
    """An in-app notice for one user (a task reminder), shown until read."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_notifications")
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # A workflow step's idempotency key (enrolment-seq): one notice per step run; or
    # "import:<id>:<user id>": the one notice of a rep given leads by an import, over its batches.
    key = models.CharField(max_length=80, blank=True)
    # The leads an import's notice is about so far (0 for other notices).
    count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "created_at"], name="sales_notice_user")]
        constraints = [
            models.UniqueConstraint(fields=["task"], name="sales_notice_one_per_task"),
            models.UniqueConstraint(fields=["key"], condition=~models.Q(key=""), name="sales_notice_key"),
        ]

    @property
    def link(self) -> str:
        """The notice's page, only when it is one of ours (a path, never a scheme or host)."""
        return self.url if self.url.startswith("/") and not self.url.startswith("//") else ""


class CalendarFeed(models.Model):
    """A user's secret calendar URL: only its SHA-256 is stored; resetting makes a new one."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)


# --- lead assignment --------------------------------------------------------------------------


class Absence(models.Model):
    """A time a rep is away: lead assignment skips them. "Absent now" starts now with no end
    (until they say they are back); a planned leave has both ends."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="absences")
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["user", "starts_at"], name="sales_absence_user")]

    def __str__(self) -> str:
        return f"{self.user} {self.starts_at:%Y-%m-%d}"


class AssignmentRule(models.Model):
    """Who gets a new lead: the reps of a team (or some of them), in turn (round robin) or the
    least loaded first (workload), skipping absent reps and those at capacity; optional
    conditions in the segment condition language. Rules apply in ``position`` order; a lead no
    rule matches keeps no owner. ``last_user`` is the round robin's pointer (kept in the row,
    locked while a batch is shared out, so a restart or a second worker keeps the turn)."""

    class Method(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round robin")
        WORKLOAD = "workload", _("Fewest open items")

    class Load(models.TextChoices):
        LEADS = "leads", _("Open leads")
        DEALS = "deals", _("Open deals")

    name = models.CharField(_("name"), max_length=120)
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, related_name="assignment_rules", verbose_name=_("team")
    )
    # Empty: every active member of the team.
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("reps"))
    position = models.PositiveIntegerField(_("priority"), default=0)
    method = models.CharField(_("method"), max_length=12, choices=Method.choices, default=Method.ROUND_ROBIN)
    load = models.CharField(_("workload counts"), max_length=5, choices=Load.choices, default=Load.LEADS)
    # A segment condition tree ({} or None: every new lead).
    condition = models.JSONField(_("conditions"), default=dict, blank=True)
    # Most open items (leads or deals, as ``load`` says) a rep may hold; None: no limit.
    capacity = models.PositiveIntegerField(_("capacity per rep"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Assignment(models.Model):
    """One lead (or a rep's deal or task) given to a rep, with why: the history of owners that
    assignment wrote, and the idempotency key of a workflow step (one per contact and key)."""

    class Via(models.TextChoices):
        NEW_LEAD = "new_lead", _("New lead")
        WORKFLOW = "workflow", _("Workflow")
        REASSIGN = "reassign", _("Rep left")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    previous = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(AssignmentRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    via = models.CharField(max_length=10, choices=Via.choices)
    key = models.CharField(max_length=80, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["contact", "at"], name="sales_assignment_contact")]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "key"], condition=~models.Q(key=""), name="sales_assignment_one_per_key"
            )
        ]


# --- price lists ------------------------------------------------------------------------------


class PriceList(models.Model):
    """Prices for a customer group (a segment or list; none: everyone) in one currency, valid
    between two dates (either open). A product's price is the item's price, else the item's
    % off the product's list price, else the list's own % off. The applicable lists of a
    contact are tried by ``priority`` (lower first)."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    currency = models.CharField(_("currency"), max_length=3, default=HOME_CURRENCY)
    segment = models.ForeignKey(
        "segments.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("customer group"),
    )  # fmt: skip
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    priority = models.PositiveIntegerField(_("priority"), default=100)
    discount_percent = models.DecimalField(
        _("Discount on list prices (percent)"), max_digits=5, decimal_places=2, default=Decimal(0)
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name


class PriceListItem(models.Model):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    price = models.DecimalField(_("price"), max_digits=18, decimal_places=2, null=True, blank=True)
    discount_percent = models.DecimalField(
        _("discount on the list price (percent)"), max_digits=5, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["price_list_id", "product_id"]
        constraints = [models.UniqueConstraint(fields=["price_list", "product"], name="sales_pricelist_product_unique")]
