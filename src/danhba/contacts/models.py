"""The single customer view: contacts, companies, their identities, custom fields and timeline."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from danhba.core.normalize import FAMILY_MAX, GIVEN_MAX, MIDDLE_MAX
from danhba.core.vn import PROVINCES


class LabelledChoice(models.Model):
    """An admin-configurable choice with an English and a Vietnamese label."""

    key = models.SlugField(_("key"), max_length=60, unique=True)
    name = models.CharField(_("name (English)"), max_length=120)
    name_vi = models.CharField(_("name (Vietnamese)"), max_length=120, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        abstract = True
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if (get_language() or "").startswith("vi") and self.name_vi:
            return self.name_vi
        return self.name


class LifecycleStage(LabelledChoice):
    class Meta(LabelledChoice.Meta):
        verbose_name = _("lifecycle stage")


class BuyerRole(LabelledChoice):
    class Meta(LabelledChoice.Meta):
        verbose_name = _("buyer role")


class Source(models.TextChoices):
    ORDER = "order", _("Order")
    QUESTIONNAIRE = "questionnaire", _("Questionnaire")
    REGISTRATION = "registration", _("Registration")
    CONTEST = "contest", _("Contest")
    COMPLAINT = "complaint", _("Complaint or inquiry")
    LOYALTY = "loyalty", _("Loyalty programme")
    WARRANTY = "warranty", _("Warranty card")
    SUBSCRIPTION = "subscription", _("Subscription")
    REVIEW = "review", _("Review")
    WEB_ANALYTICS = "web_analytics", _("Web analytics")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    FORM = "form", _("Form")
    FACEBOOK = "facebook", _("Facebook Lead Ads")
    ZALO = "zalo", _("Zalo OA")
    OTHER = "other", _("Other")


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")


class NameOrder(models.TextChoices):
    VI = "vi", _("Family name first (Vietnamese)")
    WESTERN = "western", _("Given name first (Western)")


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)
    name_key = models.CharField(max_length=80, unique=True)
    color = models.CharField(_("colour"), max_length=7, default="#64748b")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name_key"]

    def __str__(self) -> str:
        return self.name


class CustomField(models.Model):
    """An admin-defined field. Values live in the ``custom`` JSON column: no ALTER TABLE per field."""

    class Entity(models.TextChoices):
        CONTACT = "contact", _("Contact")
        COMPANY = "company", _("Company")

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        LONG_TEXT = "long_text", _("Long text")
        NUMBER = "number", _("Whole number")
        DECIMAL = "decimal", _("Decimal")
        DATE = "date", _("Date")
        DATETIME = "datetime", _("Date and time")
        BOOLEAN = "boolean", _("Yes / no")
        CHOICE = "choice", _("Choice")
        MULTI_CHOICE = "multi_choice", _("Multiple choice")
        URL = "url", _("URL")
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")

    entity = models.CharField(_("applies to"), max_length=10, choices=Entity.choices, default=Entity.CONTACT)
    key = models.SlugField(_("key"), max_length=60)
    label = models.CharField(_("label"), max_length=120)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    is_sensitive = models.BooleanField(
        _("sensitive"), default=False, help_text=_("Hidden from roles not granted this field.")
    )
    help_text = models.CharField(_("help text"), max_length=240, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["entity", "position", "label"]
        constraints = [models.UniqueConstraint(fields=["entity", "key"], name="customfield_entity_key_unique")]

    def __str__(self) -> str:
        return self.label

    @property
    def permission_key(self) -> str:
        """The key roles use to grant this field when it is sensitive."""
        return f"custom.{self.key}" if self.entity == self.Entity.CONTACT else f"company_custom.{self.key}"


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200)
    name_key = models.CharField(max_length=200, db_index=True)
    domain = models.CharField(_("domain"), max_length=200, blank=True, db_index=True)
    website = models.URLField(_("website"), blank=True)
    tax_code = models.CharField(_("tax code"), max_length=20, blank=True, db_index=True)
    industry = models.CharField(_("industry"), max_length=120, blank=True)
    size = models.CharField(_("size"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    street = models.CharField(_("street address"), max_length=255, blank=True)
    ward = models.CharField(_("ward / commune"), max_length=120, blank=True)
    province = models.CharField(_("province / city"), max_length=40, choices=PROVINCES, blank=True)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
    )
    custom = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name_key", "id"]
        verbose_name_plural = _("companies")
        indexes = [models.Index(fields=["name_key", "id"], name="company_name_key_id")]

    def __str__(self) -> str:
        return self.name


class ContactQuerySet(models.QuerySet["Contact"]):
    def lock_in_id_order(self, ids: Any) -> list[int]:
        """Inside a transaction: lock these contacts in id order (``FOR NO KEY UPDATE``, which the
        event intake's ``FOR KEY SHARE`` does not wait for), the order every writer of several
        contacts takes them in; the ids that exist."""
        locked = self.filter(pk__in=sorted(set(ids))).order_by("pk").select_for_update(no_key=True)
        return list(locked.values_list("pk", flat=True))

    def visible_to(self, user: Any) -> ContactQuerySet:
        """Only the contacts a user's role may see (record-level visibility)."""
        from danhba.accounts import permissions as perms

        if not user.can("contact", perms.VIEW):
            return self.none()
        scope = perms.record_scope_q(user)
        return self if scope is None else self.filter(scope)


class Contact(models.Model):
    # --- identity -------------------------------------------------------------------------
    full_name = models.CharField(_("full name"), max_length=200)
    family_name = models.CharField(_("family name"), max_length=FAMILY_MAX, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=MIDDLE_MAX, blank=True)
    given_name = models.CharField(_("given name"), max_length=GIVEN_MAX, blank=True)
    name_order = models.CharField(_("name order"), max_length=10, choices=NameOrder.choices, default=NameOrder.VI)
    # Folded (lower-case, no diacritics) full name: the sort key of the "name" column.
    name_key = models.CharField(max_length=200, editable=False)
    # Primary email and phone, copied from the identity rows so lists need no join.
    email = models.CharField(_("email"), max_length=254, blank=True, editable=False)
    phone = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    street = models.CharField(_("street address"), max_length=255, blank=True)
    ward = models.CharField(_("ward / commune"), max_length=120, blank=True)
    province = models.CharField(_("province / city"), max_length=40, choices=PROVINCES, blank=True)
    address_raw = models.TextField(_("address as entered"), blank=True)
    country = models.CharField(_("country"), max_length=2, default="VN")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True)
    # --- descriptive ----------------------------------------------------------------------
    occupation = models.CharField(_("occupation"), max_length=120, blank=True)
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    education = models.CharField(_("education"), max_length=120, blank=True)
    income_band = models.CharField(_("income band"), max_length=60, blank=True)
    family = models.TextField(_("family"), blank=True)
    lifestyle = models.TextField(_("lifestyle"), blank=True)
    hobbies = models.TextField(_("hobbies"), blank=True)
    # --- qualitative ----------------------------------------------------------------------
    preferences = models.TextField(_("preferences"), blank=True)
    motivations = models.TextField(_("motivations"), blank=True)
    likes = models.TextField(_("likes"), blank=True)
    dislikes = models.TextField(_("dislikes"), blank=True)
    # --- relationship ---------------------------------------------------------------------
    lifecycle_stage = models.ForeignKey(
        LifecycleStage, on_delete=models.PROTECT, related_name="contacts", verbose_name=_("lifecycle stage")
    )
    buyer_role = models.ForeignKey(
        BuyerRole,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
        verbose_name=_("buyer role"),
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.OTHER)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
        verbose_name=_("owner"),
    )
    tags: models.ManyToManyField[Tag, Any] = models.ManyToManyField(
        Tag, through="ContactTag", related_name="contacts", blank=True
    )
    companies: models.ManyToManyField[Company, Any] = models.ManyToManyField(
        Company, through="ContactCompany", related_name="contacts", blank=True
    )
    custom = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # Never null, so it can be a keyset sort column; starts at creation.
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now)
    # --- purchases: a copy of the metrics of ``orders.PurchaseStats`` that a segment condition
    # can ask about, written only by ``orders.stats`` in the order's own transaction. On the
    # contact so that a segment's "province = X and spent > N" is one range of one index, not
    # two sets of ids joined (docs/decisions/0025). Never in a form, an import or a merge.
    order_count = models.PositiveIntegerField(_("orders"), default=0, editable=False)
    total_spent = models.DecimalField(_("total spent"), default=0, max_digits=18, decimal_places=2, editable=False)
    average_order_value = models.DecimalField(
        _("average order value"), default=0, max_digits=18, decimal_places=2, editable=False
    )
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True, editable=False)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True, editable=False)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["name_key", "id"]
        indexes = [
            # Keyset pagination: one (sort column, id) index per sortable column.
            models.Index(fields=["name_key", "id"], name="contact_name_key_id"),
            models.Index(fields=["created_at", "id"], name="contact_created_id"),
            models.Index(fields=["updated_at", "id"], name="contact_updated_id"),
            models.Index(fields=["last_activity_at", "id"], name="contact_activity_id"),
            # Record visibility walks each owner's rows in sort order (selectors.contact_page).
            models.Index(fields=["owner", "name_key", "id"], name="contact_owner_name"),
            models.Index(fields=["owner", "created_at", "id"], name="contact_owner_created"),
            models.Index(fields=["owner", "updated_at", "id"], name="contact_owner_updated"),
            models.Index(fields=["owner", "last_activity_at", "id"], name="contact_owner_activity"),
            models.Index(fields=["lifecycle_stage", "name_key", "id"], name="contact_stage_name"),
            models.Index(fields=["province", "name_key", "id"], name="contact_province_name"),
            # Purchase conditions of segments: one (metric, id) index each; spent also by
            # province, the location every shop's segments start from (decision 0025).
            models.Index(fields=["province", "total_spent", "id"], name="contact_province_spent"),
            models.Index(fields=["order_count", "id"], name="contact_orders"),
            models.Index(fields=["average_order_value", "id"], name="contact_aov"),
            models.Index(fields=["first_order_at", "id"], name="contact_first_order"),
            models.Index(fields=["last_order_at", "id"], name="contact_last_order"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A save of a contact read earlier writes every column but the purchase metrics: an
        order committed meanwhile must not lose its figures to a stale copy."""
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = SAVED_COLUMNS
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        """How the contact is shown everywhere (pages, lists, exports' display name, the API):
        its name, or for a contact known only by an identifier (an event's userId) that has
        none, "Anonymous #id"."""
        return display_name(self.full_name, self.pk)


# Written only by orders.stats (see Contact.order_count).
PURCHASE_COLUMNS = ("order_count", "total_spent", "average_order_value", "first_order_at", "last_order_at")
SAVED_COLUMNS = [f.name for f in Contact._meta.concrete_fields if not f.primary_key and f.name not in PURCHASE_COLUMNS]


def display_name(full_name: str, contact_id: Any) -> str:
    """The one rule for showing a contact by name (:attr:`Contact.display_name`), for writers
    that hold a row's values rather than a Contact: the list, cards, API, exports, timeline and
    search results all show this."""
    return full_name or anonymous_label(contact_id)


def anonymous_label(contact_id: Any) -> str:
    return gettext("Anonymous #%(id)s") % {"id": contact_id}


class ContactEmail(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    email = models.CharField(_("email"), max_length=254, unique=True)
    label = models.CharField(_("label"), max_length=30, blank=True, default="personal")
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        ordering = ["-is_primary", "id"]

    def __str__(self) -> str:
        return self.email


class ContactPhone(models.Model):
    # No index of its own: contactphone_unique (contact, e164) leads with it (decision 0015).
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones", db_index=False)
    e164 = models.CharField(_("phone"), max_length=20, db_index=True)
    raw = models.CharField(_("as entered"), max_length=40, blank=True)
    kind = models.CharField(max_length=10, blank=True)
    label = models.CharField(_("label"), max_length=30, blank=True, default="mobile")
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [models.UniqueConstraint(fields=["contact", "e164"], name="contactphone_unique")]

    def __str__(self) -> str:
        return self.e164


class ExternalId(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="external_ids")
    system = models.CharField(_("system"), max_length=60)
    value = models.CharField(_("id"), max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["system", "value"], name="externalid_unique")]

    def __str__(self) -> str:
        return self.text(self.system, self.value)

    @staticmethod
    def text(system: str, value: str) -> str:
        """How an external id reads (audit rows), without making the row: "segment:u42"."""
        return f"{system}:{value}"


class SocialProfile(models.Model):
    class Network(models.TextChoices):
        ZALO = "zalo", "Zalo"
        FACEBOOK = "facebook", "Facebook"
        TIKTOK = "tiktok", "TikTok"
        INSTAGRAM = "instagram", "Instagram"
        LINKEDIN = "linkedin", "LinkedIn"
        X = "x", "X"
        YOUTUBE = "youtube", "YouTube"
        OTHER = "other", _("Other")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="social_profiles")
    network = models.CharField(_("network"), max_length=20, choices=Network.choices)
    handle = models.CharField(_("handle or URL"), max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "network", "handle"], name="socialprofile_unique")]

    def __str__(self) -> str:
        return f"{self.network}:{self.handle}"


class ContactTag(models.Model):
    # No single-column indexes: contacttag_unique leads with the contact, contacttag_tag_contact
    # with the tag; each row of an import wrote five B-trees for two (decision 0015).
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, db_index=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "tag"], name="contacttag_unique")]
        indexes = [models.Index(fields=["tag", "contact"], name="contacttag_tag_contact")]


class ContactCompany(models.Model):
    # No single-column indexes: contactcompany_unique and contactcompany_company lead with them.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="company_links", db_index=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contact_links", db_index=False)
    is_primary = models.BooleanField(_("primary"), default=False)
    job_title = models.CharField(_("job title"), max_length=120, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "company"], name="contactcompany_unique")]
        indexes = [models.Index(fields=["company", "contact"], name="contactcompany_company")]


class SearchEntry(models.Model):
    """What one contact is found by, one row per contact, each column a space-separated text:
    the folded words of its name and of its companies' names, its emails, its phones as reversed
    national digits (``contacts/search.py`` writes and reads it). The database indexes it: on
    SQLite an FTS5 table over it (``contacts_searchentry_fts``, kept current by triggers); on
    PostgreSQL a generated ``tsvector`` column ``doc`` with a GIN index (migration 0010).
    A migration that alters this table makes SQLite rebuild it, which drops the triggers: such a
    migration must create them again (as 0011 does); ``tests/test_search_index.py`` checks them."""

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, primary_key=True, related_name="+")
    name = models.TextField(blank=True)
    company = models.TextField(blank=True)
    email = models.TextField(blank=True)
    phone = models.TextField(blank=True)


class SearchMatch(models.Model):
    """SQLite only: the FTS5 index over ``SearchEntry`` (``contacts_searchentry_fts``), its rowid
    the contact's id. ``search.search_matches`` reads it so that SQLite walks the index's matches
    in id order and stops at the page's end. Migration 0010 creates it; Django never alters it."""

    contact = models.OneToOneField(
        Contact,
        on_delete=models.DO_NOTHING,
        primary_key=True,
        db_column="rowid",
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        managed = False
        db_table = "contacts_searchentry_fts"


class TimelineEntry(models.Model):
    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        CHAT = "chat", _("Chat")
        COMPLAINT = "complaint", _("Complaint")
        QUESTION = "question", _("Question")
        REVIEW = "review", _("Review")
        EMAIL = "email", _("Email")
        SYSTEM = "system", _("Change")

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("Email")
        ZALO = "zalo", "Zalo"
        FACEBOOK = "facebook", "Facebook"
        WEBSITE = "website", _("Website")
        IN_PERSON = "in_person", _("In person")
        STORE = "store", _("Store")
        SMS = "sms", "SMS"
        OTHER = "other", _("Other")

    # No index of its own: ``timeline_contact_time`` (contact, occurred_at, id) starts with it.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="timeline", db_index=False)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.NOTE)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("details"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    is_private = models.BooleanField(_("private"), default=False)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = _("timeline entries")
        indexes = [models.Index(fields=["contact", "occurred_at", "id"], name="timeline_contact_time")]

    def __str__(self) -> str:
        return self.subject or self.get_kind_display()


class ExportJob(models.Model):
    """A contact export too large for the request, written to a file by the worker.

    The row is the truth: the job claims it (queued → running), writes ``rows_done`` and
    ``updated_at`` after every page (cancelling is setting the status; the next progress write
    notices), and only a finished file is downloadable, by the person who asked for it.
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", _("Excel (XLSX)")
        JSON = "json", "JSON"
        VCARD = "vcard", "vCard"

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The door and address of the request, for the audit row written when the file is done.
    via = models.CharField(max_length=5, default="ui")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)  # heartbeat while running
    format = models.CharField(_("format"), max_length=10, choices=Format.choices)
    filters = models.JSONField(_("filters"), default=dict, blank=True)  # list query parameters
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)  # an estimate until the job counts
    rows_done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/", max_length=200, blank=True)  # under MEDIA_ROOT
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["requested_by", "created_at"], name="exportjob_user_created"),
            models.Index(fields=["status", "created_at"], name="exportjob_status_created"),
        ]

    def __str__(self) -> str:
        return f"{self.format} #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def query(self) -> str:
        """The filters as the list page's query string (a link back to the list exported)."""
        from urllib.parse import urlencode

        return urlencode(self.filters or {})

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)
