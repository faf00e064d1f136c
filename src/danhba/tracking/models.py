"""Event sources, the events they send (Segment spec), and the identity graph behind them."""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact


def hash_write_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class SourceQuerySet(models.QuerySet["Source"]):
    def active(self) -> SourceQuerySet:
        return self.filter(disabled_at__isnull=True)


class Source(models.Model):
    """A system that sends events (a website, a backend, an app), with its own write key.
    Only a hash of the key is stored, like ``accounts.ApiKey``."""

    PREFIX = "dbw_"

    class Kind(models.TextChoices):
        SERVER = "server", _("Server")
        WEBSITE = "website", _("Website")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SERVER)
    # First characters of the key, shown in lists so people can tell sources apart.
    key_prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)

    objects = SourceQuerySet.as_manager()
    _lookup_sql: str | None = None

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @classmethod
    def generate_key(cls) -> tuple[str, str, str]:
        """Return (raw key, display prefix, hash)."""
        raw = cls.PREFIX + secrets.token_urlsafe(24)
        return raw, raw[:12], hash_write_key(raw)

    @classmethod
    def lookup(cls, raw: str) -> Source | None:
        """The active source a write key belongs to, or None."""
        if not raw or len(raw) > 200:
            return None
        # On every event request: a raw SELECT, without compiling an ORM query each time.
        if cls._lookup_sql is None:
            quote = connection.ops.quote_name
            cls._lookup_sql = (
                f"SELECT * FROM {quote(cls._meta.db_table)} "  # noqa: S608
                f"WHERE {quote('key_hash')} = %s AND {quote('disabled_at')} IS NULL"
            )
        return next(iter(cls.objects.raw(cls._lookup_sql, [hash_write_key(raw)])), None)

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class Event(models.Model):
    """One Segment call. The biggest table: a 64-bit key, no foreign key but the source and the
    contact, JSON for everything free-form, and only the indexes the reads need.

    On PostgreSQL it is partitioned by month of ``timestamp``, its primary key is (id, timestamp)
    while Django keeps ``id`` as the key (ids come from one sequence, so they stay unique), and no
    other table may hold a foreign key to it (a key would have to name both columns)."""

    class Type(models.TextChoices):
        IDENTIFY = "identify", _("Identify")
        TRACK = "track", _("Track")
        PAGE = "page", _("Page")
        SCREEN = "screen", _("Screen")
        GROUP = "group", _("Group")
        ALIAS = "alias", _("Alias")

    id = models.BigAutoField(primary_key=True)
    # PROTECT: sources are disabled, never deleted while they have events.
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    message_id = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=Type.choices)
    # Event name for track, page/screen name, group id for group, empty otherwise.
    name = models.CharField(max_length=200, blank=True)
    # CASCADE, not SET_NULL: events carry personal data (traits, IP, properties), so erasing a
    # contact must erase them; Django deletes them with one DELETE (no signals, no dependants)
    # instead of rewriting millions of rows to NULL that would still be identifiable by user id.
    # No index of its own: (contact, timestamp) serves every lookup by contact.
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    anonymous_id = models.CharField(max_length=200, blank=True)
    user_id = models.CharField(max_length=200, blank=True)
    # When it happened, corrected for the sender's clock (see services.corrected_timestamp).
    timestamp = models.DateTimeField()
    original_timestamp = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)

    class Meta:
        # No unique constraint: on PostgreSQL the table is partitioned by month of ``timestamp``
        # (see partitions.py), where a unique index must include the partition key, and a retry's
        # corrected timestamp can differ. Idempotency lives in EventMessage instead.
        indexes = [
            models.Index(fields=["contact", "timestamp"], name="event_contact_time"),
            # Covering for segments: "did X ≥ N times in a period" counts per contact from the
            # index alone, without reading the rows.
            models.Index(fields=["name", "timestamp", "contact"], name="event_name_time_contact"),
            # Only anonymous events are ever looked up by anonymous id (to move them to a
            # contact), so identified rows stay out of this index.
            models.Index(fields=["anonymous_id"], name="event_anon_unassigned", condition=Q(contact__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name} ({self.message_id})"


class EventMessage(models.Model):
    """The messageIds seen per source in the last ``EVENT_DEDUPE_DAYS`` days: the idempotency key
    of the event API. ``events_ingest`` inserts here first (ON CONFLICT DO NOTHING RETURNING), in
    the transaction that stores the events, and stores only the messages whose row it inserted.
    Segment's own window is 24 hours; rows older than the window are purged nightly."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="event_message_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.message_id}"


class EventRetention(models.Model):
    """How long events are kept, per event type and/or name. The most specific rule wins (type
    and name, then name, then type); the rule with neither is the default for everything else.
    ``keep_months`` NULL keeps events forever."""

    event_type = models.CharField(_("event type"), max_length=10, choices=Event.Type.choices, blank=True)
    name = models.CharField(_("event name"), max_length=200, blank=True)
    keep_months = models.PositiveIntegerField(_("keep (months)"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_type", "name"], name="event_retention_unique")]

    def __str__(self) -> str:
        return self.label

    @property
    def is_default(self) -> bool:
        return not self.event_type and not self.name

    @property
    def specificity(self) -> int:
        return (2 if self.name else 0) + (1 if self.event_type else 0)

    @property
    def label(self) -> str:
        if self.is_default:
            return str(_("All other events"))
        parts = []
        if self.event_type:
            parts.append(str(Event.Type(self.event_type).label))
        if self.name:
            parts.append(f"“{self.name}”")
        return " ".join(parts)

    def matches(self, event_type: str, name: str) -> bool:
        return (not self.event_type or self.event_type == event_type) and (not self.name or self.name == name)


class EventPurge(models.Model):
    """One run of the event purge: when, and what it deleted per rule, per dropped partition
    and from the dedupe window. ``finished_at`` stays empty if the run was interrupted."""

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    via = models.CharField(max_length=10, default="job")
    deleted = models.BigIntegerField(default=0)
    messages_deleted = models.BigIntegerField(default=0)
    # {"rules": [{"rule": id, "label", "keep_months", "cutoff", "deleted"}],
    #  "partitions": [{"name", "from", "to", "rows"}]}
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"purge {self.started_at:%Y-%m-%d %H:%M}: {self.deleted}"


class AnonymousIdentity(models.Model):
    """A device or browser id (Segment ``anonymousId``, or an alias ``previousId``) known to
    belong to a contact. One id, one contact: the first identified visitor keeps it."""

    anonymous_id = models.CharField(max_length=200, unique=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "anonymous identities"

    def __str__(self) -> str:
        return f"{self.anonymous_id} → {self.contact_id}"


class SuspectedDuplicate(models.Model):
    """Two identified contacts that one event says are the same person. Never merged here:
    the data-quality review queue decides. ``contact_a`` has the smaller id."""

    class Reason(models.TextChoices):
        EMAIL = "email", _("An event gave the email of another contact")
        PHONE = "phone", _("An event gave the phone of another contact")
        ANONYMOUS_ID = "anonymous_id", _("Same device (anonymous id) as another contact")
        ALIAS = "alias", _("Alias between two contacts")

    contact_a = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    contact_b = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    # The event that raised it and the identifiers involved, for the reviewer.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_a", "contact_b", "reason"], name="suspected_duplicate_unique"),
            models.CheckConstraint(condition=Q(contact_a__lt=models.F("contact_b")), name="suspected_duplicate_order"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_a_id} ~ {self.contact_b_id} ({self.reason})"


# --- orders (see orders.py) -------------------------------------------------------------------


def shop_currency() -> str:
    return settings.SHOP_CURRENCY


class Product(models.Model):
    """The product catalogue, upserted from the lines of the orders that mention a product:
    name, category and price are the last ones seen."""

    product_id = models.CharField(_("product id"), max_length=200, unique=True)
    name = models.CharField(_("name"), max_length=300, blank=True)
    category = models.CharField(_("category"), max_length=200, blank=True, db_index=True)
    price = models.DecimalField(_("price"), null=True, blank=True, max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default=shop_currency)
    # When the latest order naming it was placed: an older order replayed later (a history
    # import) does not overwrite the name, category and price of a newer one.
    last_ordered_at = models.DateTimeField(_("last ordered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name or self.product_id} ({self.product_id})"


class Order(models.Model):
    """One order, from an "Order Completed" event or the REST API, upserted by its external
    ``order_id``. Money is in ``currency``; ``total`` is what was charged, ``refunded_amount``
    what was given back."""

    class SalesChannel(models.TextChoices):  # not "Channel": the API documents enums by class name
        ONLINE = "online", _("Online")
        STORE = "store", _("Store")
        MARKETPLACE = "marketplace", _("Marketplace")
        PHONE = "phone", _("Phone")

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")
        CANCELLED = "cancelled", _("Cancelled")

    # Orders that count as purchases in the contact's metrics.
    COUNTED = (Status.COMPLETED, Status.PARTIALLY_REFUNDED)

    id = models.BigAutoField(primary_key=True)
    order_id = models.CharField(_("order id"), max_length=200, unique=True)
    # CASCADE like events: an order names a person; erasing the contact erases its orders.
    # NULL while the buyer is an anonymous visitor; set when the device is identified.
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="orders")
    anonymous_id = models.CharField(max_length=200, blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    placed_at = models.DateTimeField(_("placed"))
    channel = models.CharField(_("channel"), max_length=12, choices=SalesChannel.choices, default=SalesChannel.ONLINE)
    store = models.CharField(_("store"), max_length=200, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default=shop_currency)
    subtotal = models.DecimalField(_("subtotal"), default=0, max_digits=18, decimal_places=2)
    discount = models.DecimalField(_("discount"), default=0, max_digits=18, decimal_places=2)
    shipping = models.DecimalField(_("shipping"), default=0, max_digits=18, decimal_places=2)
    tax = models.DecimalField(_("tax"), default=0, max_digits=18, decimal_places=2)
    total = models.DecimalField(_("total"), default=0, max_digits=18, decimal_places=2)
    refunded_amount = models.DecimalField(_("refunded"), default=0, max_digits=18, decimal_places=2)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.COMPLETED)
    properties = models.JSONField(default=dict, blank=True)
    # Refunds applied, oldest first: [{"id", "amount", "at", "lines": {product_id: quantity}}].
    # A refund id seen before is not applied twice.
    refunds = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "placed_at"], name="order_contact_placed"),
            models.Index(fields=["placed_at"], name="order_placed"),
            models.Index(fields=["anonymous_id"], name="order_anon_unassigned", condition=Q(contact__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.order_id

    @property
    def net_total(self) -> Decimal:
        return self.total - self.refunded_amount

    @property
    def is_counted(self) -> bool:
        return self.status in self.COUNTED


class OrderLine(models.Model):
    """One product line of an order. ``product_id`` is the external product id as sent (the
    foreign key points at ``Product.product_id``), empty when the line named no product."""

    id = models.BigAutoField(primary_key=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, to_field="product_id", null=True, blank=True, on_delete=models.SET_NULL, related_name="lines"
    )
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(_("name"), max_length=300, blank=True)
    category = models.CharField(_("category"), max_length=200, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    price = models.DecimalField(_("price"), default=0, max_digits=18, decimal_places=2)
    discount = models.DecimalField(_("discount"), default=0, max_digits=18, decimal_places=2)
    # price × quantity − discount
    total = models.DecimalField(_("total"), default=0, max_digits=18, decimal_places=2)
    refunded_quantity = models.PositiveIntegerField(_("refunded quantity"), default=0)

    class Meta:
        ordering = ["order", "position", "id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name or self.product_id}"

    @property
    def refunded_total(self) -> Decimal:
        if not self.quantity or not self.refunded_quantity:
            return Decimal(0)
        share = Decimal(self.total) * min(self.refunded_quantity, self.quantity) / self.quantity
        return share.quantize(Decimal("0.01"))


class PurchaseStats(models.Model):
    """A contact's purchase metrics, kept current by ``orders.py`` on every order, refund,
    cancellation and attach (never by rescanning the contact's orders). Only orders in
    ``settings.SHOP_CURRENCY`` count towards money; every counted order counts towards the
    number of orders, dates and frequency."""

    contact = models.OneToOneField(Contact, primary_key=True, on_delete=models.CASCADE, related_name="purchase_stats")
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True, db_index=True)
    order_count = models.PositiveIntegerField(_("orders"), default=0, db_index=True)
    # Orders in the shop currency: the divisor of the average order value.
    money_order_count = models.PositiveIntegerField(default=0)
    total_spent = models.DecimalField(_("total spent"), default=0, db_index=True, max_digits=18, decimal_places=2)
    average_order_value = models.DecimalField(_("average order value"), default=0, max_digits=18, decimal_places=2)
    # Mean days between orders: (last − first) / (orders − 1); NULL with fewer than two orders.
    purchase_frequency_days = models.FloatField(_("days between orders"), null=True, blank=True)
    # {category: {"amount": "123.00", "count": orders including it}}
    categories = models.JSONField(default=dict, blank=True)
    favourite_category = models.CharField(_("favourite category"), max_length=200, blank=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name_plural = "purchase stats"

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.order_count} orders"


class EventInbox(models.Model):
    """One accepted request of the event API, waiting for the worker (see ``inbox.py``; on SQLite
    the inbox is a file of its own with the same columns instead of this table): its
    validated messages as JSON text. Deleted once processed; a row that keeps failing is kept
    with ``failed_at`` and its error instead of being dropped."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField()
    messages = models.TextField()
    count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # Claimed by a worker until then; pending again afterwards (the worker died).
    claimed_until = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"inbox {self.pk} ({self.count} messages)"
