"""Email: templates, campaigns, the send log (one row per recipient) and the suppression list."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.messaging.domains import OK, RECORDS, Verdict


class EmailTemplate(models.Model):
    """An email as its author wrote it: Liquid in the subject, preheader, HTML (or MJML) and
    plain-text parts. Rendering (compose.py) compiles MJML, fills the tokens, inlines CSS and
    derives the text part when it is left empty."""

    class Kind(models.TextChoices):
        MARKETING = "marketing", _("Marketing email")
        TRANSACTIONAL = "transactional", _("Transactional email")

    class Format(models.TextChoices):
        HTML = "html", _("HTML")
        MJML = "mjml", _("MJML")

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices, default=Kind.MARKETING)
    subject = models.CharField(_("subject"), max_length=500)
    preheader = models.CharField(_("preheader"), max_length=300, blank=True)
    format = models.CharField(_("format"), max_length=5, choices=Format.choices, default=Format.HTML)
    body = models.TextField(_("body"), blank=True)
    text_body = models.TextField(_("plain text"), blank=True)
    sender_name = models.CharField(_("sender name"), max_length=120, blank=True)
    sender_email = models.CharField(_("sender address"), max_length=254, blank=True)
    reply_to = models.CharField(_("reply-to address"), max_length=254, blank=True)
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
    def is_marketing(self) -> bool:
        return self.kind == self.Kind.MARKETING

    @property
    def from_address(self) -> str:
        return self.sender_email or settings.DEFAULT_FROM_EMAIL


class AbMetric(models.TextChoices):
    CLICKS = "clicks", _("click rate")
    OPENS = "opens", _("open rate (human opens)")
    MANUAL = "manual", _("picked by hand")


class Campaign(models.Model):
    """One email to an audience: segments and lists (minus the excluded ones), sent now, at a
    time, or throttled. When it starts, the template's parts are copied into ``content`` (later
    edits of the template do not change a campaign under way) and one :class:`Send` row is
    written per contact of the audience, excluded ones with their reason."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SCHEDULED = "scheduled", _("scheduled")
        SENDING = "sending", _("sending")
        PAUSED = "paused", _("paused")
        # An A/B test: the variants went to the test share; the rest waits for the winner.
        TESTING = "testing", _("testing variants")
        SENT = "sent", _("sent")
        CANCELLED = "cancelled", _("cancelled")

    name = models.CharField(_("name"), max_length=200)
    template = models.ForeignKey(EmailTemplate, on_delete=models.PROTECT, related_name="campaigns")
    segments = models.ManyToManyField("segments.Segment", related_name="+", verbose_name=_("audience"))
    exclude_segments = models.ManyToManyField(
        "segments.Segment", related_name="+", blank=True, verbose_name=_("excluded segments")
    )
    # What the campaign is about (an email topic, a consent purpose of privacy): contacts who
    # opted out of it in the preference centre are left out.
    topic = models.ForeignKey(
        "privacy.ConsentPurpose",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"email_topic": True},
        verbose_name=_("topic"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    # At most this many messages per hour (0: as fast as the transport takes them).
    per_hour = models.PositiveIntegerField(_("messages per hour"), default=0)
    content = models.JSONField(default=dict, blank=True, editable=False)
    # Open pixel and click redirects in the messages (off: the links go straight to their
    # address and nothing tells danhba who read the email).
    tracking = models.BooleanField(_("track opens and clicks"), default=True)
    # Counts by Send state and by exclusion reason, kept by the services and the job.
    counts = models.JSONField(default=dict, blank=True, editable=False)
    # Messages sent again after a crash (they may have left before it): same Message-ID.
    resent = models.PositiveIntegerField(_("sent again after a crash"), default=0)
    # The send job that holds the campaign, and when it last showed it is alive: a job finding
    # the heartbeat older than the lease takes over (the one before died).
    run_token = models.CharField(max_length=32, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # --- A/B tests (services/abtests.py). A variant is a campaign of its own under its parent
    # (``parent``, ``variant_label``, what it changes in ``overrides``): the send job sends it
    # like any campaign. The parent holds the test: the share of the audience that gets the
    # variants, how long to wait, how the winner is chosen, and then sends the winner to the rest.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="variants", editable=False
    )
    variant_label = models.CharField(_("variant"), max_length=2, blank=True, editable=False)
    overrides = models.JSONField(default=dict, blank=True, editable=False)  # subject, sender_name, sender_email
    # A variant's template chosen for it; otherwise the parent's, read when the test starts.
    own_template = models.BooleanField(default=False, editable=False)
    ab_share = models.PositiveSmallIntegerField(_("test share (%)"), default=10)
    ab_wait_hours = models.PositiveSmallIntegerField(_("hours before the winner is chosen"), default=4)
    ab_metric = models.CharField(_("winner by"), max_length=6, choices=AbMetric.choices, default=AbMetric.CLICKS)
    ab_decide_at = models.DateTimeField(_("winner chosen at"), null=True, blank=True, editable=False)
    ab_winner = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="messaging_campaign_due")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.SCHEDULED)

    @property
    def is_variant(self) -> bool:
        return self.parent_id is not None


class Send(models.Model):
    """One recipient of a campaign: written before the message leaves (the durability rule).

    queued → sending (claimed by the job, Message-ID fixed) → sent or failed. A row found in
    "sending" after a crash is sent again with the same Message-ID: it may have left already.
    Excluded recipients have a row too, with the reason, so the campaign page lists them."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        EXCLUDED = "excluded", _("excluded")

    class Reason(models.TextChoices):
        NO_ADDRESS = "no_address", _("no email address")
        INVALID = "invalid", _("invalid address")
        NO_CONSENT = "no_consent", _("no email-marketing consent")
        PAUSED = "paused", _("paused their marketing email")
        TOPIC_OPT_OUT = "topic_opt_out", _("opted out of the campaign's topic")
        SUPPRESSED = "suppressed", _("suppressed (unsubscribed, bounced or complained)")
        CAPPED = "capped", _("frequency cap reached")
        EXCLUDED_SEGMENT = "excluded_segment", _("in an excluded segment")

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="sends")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    email = models.CharField(_("email"), max_length=254, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices, blank=True)
    # Indexed: an ESP's webhook names the message by its Message-ID (ours, or the one the ESP
    # gave it when it took the message: esp_message_id).
    message_id = models.CharField(max_length=200, blank=True)
    esp_message_id = models.CharField(max_length=200, blank=True)
    # The receiving server took it (an ESP's "delivered" event; SMTP alone never says).
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    # What came back (for reports, per campaign and over time): the first bounce (hard wins over
    # soft), an unsubscribe from this message's links or the ESP, a spam complaint.
    bounce = models.CharField(_("bounce"), max_length=4, blank=True)  # "hard", "soft" or ""
    bounced_at = models.DateTimeField(_("bounced"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    complained_at = models.DateTimeField(_("complained"), null=True, blank=True)
    marketing = models.BooleanField(default=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.CharField(max_length=32, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # An automated campaign's pass (a workflow's email step: "enrolment-seq"): a re-enrolled
    # contact gets the message again, a repeated job never twice. Blank for every other campaign.
    key = models.CharField(max_length=40, blank=True, default="", editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "contact", "key"], name="messaging_send_unique")]
        indexes = [
            # The job's claim (queued rows of a campaign in id order) and the page's lists.
            models.Index(fields=["campaign", "state", "id"], name="messaging_send_state"),
            # The frequency cap: a contact's marketing messages of the last 24 hours.
            models.Index(fields=["contact", "sent_at"], name="messaging_send_contact"),
            # ESP webhooks find the send by a Message-ID (partial: excluded rows have none).
            models.Index(fields=["message_id"], name="messaging_send_mid", condition=~Q(message_id="")),
            models.Index(fields=["esp_message_id"], name="messaging_send_espmid", condition=~Q(esp_message_id="")),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.email or self.contact_id} ({self.state})"


class Suppression(models.Model):
    """The one global list of addresses never to send marketing or campaigns to, keyed on the
    normalised address. Ordinary actions never delete its entries."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", _("unsubscribed from everything")
        HARD_BOUNCE = "hard_bounce", _("hard bounce")
        COMPLAINT = "complaint", _("spam complaint")
        SOFT_BOUNCES = "soft_bounces", _("repeated soft bounces")
        MANUAL = "manual", _("added by staff")

    email = models.CharField(_("email"), max_length=254, unique=True)
    reason = models.CharField(_("reason"), max_length=15, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.email


class SendingDomain(models.Model):
    """A domain danhba sends from, with its own DKIM key: the private key sealed
    (``domains.seal``, never shown), the public key that goes in DNS, and the last check of the
    SPF, DKIM and DMARC records (``domains.check``; per record its status, reason untranslated,
    and the record found)."""

    domain = models.CharField(_("domain"), max_length=253, unique=True)
    selector = models.CharField(_("DKIM selector"), max_length=63)
    private_key_sealed = models.TextField(editable=False)
    public_key = models.TextField(_("DKIM public key"), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    checked_at = models.DateTimeField(_("checked"), null=True, blank=True)
    check_results = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def verdicts(self) -> dict[str, Verdict]:
        """The last check per record (spf, dkim, dmarc); empty before the first check."""
        return {name: Verdict.from_json(self.check_results[name]) for name in RECORDS if name in self.check_results}

    @property
    def ready(self) -> bool:
        verdicts = self.verdicts()
        return len(verdicts) == len(RECORDS) and all(v.status == OK for v in verdicts.values())


class SoftBounce(models.Model):
    """A send that bounced softly (mailbox full, server busy): one row per send, so a report
    repeated for the same message counts once. An address with ``MESSAGING_SOFT_BOUNCE_LIMIT``
    of them is suppressed (``services/bounces.py``)."""

    send = models.OneToOneField(Send, on_delete=models.CASCADE, related_name="+")
    email = models.CharField(_("email"), max_length=254, db_index=True)
    status = models.CharField(_("status"), max_length=12, blank=True)
    created_at = models.DateTimeField(default=timezone.now)


class CampaignLink(models.Model):
    """A link of a campaign's email, stored once when a run compiles the template: a click
    redirect goes to this address and nowhere else (never one from the request)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="links")
    position = models.PositiveIntegerField()  # the link's order in the HTML, from 1
    url = models.TextField(_("address"))

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [models.UniqueConstraint(fields=["campaign", "position"], name="messaging_campaignlink_unique")]

    def __str__(self) -> str:
        return self.url


class Machine(models.TextChoices):
    """Why an open or a click was made by a machine, not read by a person."""

    APPLE_PRIVACY = "apple_privacy", _("Apple Mail Privacy Protection")
    SCANNER = "scanner", _("link scanner or robot")
    TOO_SOON = "too_soon", _("seconds after sending")
    TRAP = "trap", _("hidden link followed")
    ALL_LINKS = "all_links", _("every link at once")


class _Activity(models.Model):
    """What opens and clicks share: the send (hence campaign and contact), when, from where
    (the client's network, not its address), and whether a machine did it."""

    id = models.BigAutoField(primary_key=True)
    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="+")
    # The send's campaign and contact again: reports count per campaign by time from an index.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+", db_index=False)
    at = models.DateTimeField(_("at"), default=timezone.now)
    ip_network = models.CharField(_("client network"), max_length=50, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    machine = models.BooleanField(_("machine"), default=False)
    machine_reason = models.CharField(_("why a machine"), max_length=15, choices=Machine.choices, blank=True)

    class Meta:
        abstract = True


class Open(_Activity):
    """The open pixel loaded (or, ``implied``, a person clicked without the pixel loading)."""

    implied = models.BooleanField(_("implied by a click"), default=False)

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "at"], name="messaging_open_campaign"),
            models.Index(fields=["send", "at"], name="messaging_open_send"),
        ]


class Click(_Activity):
    """A tracked link followed (``link`` empty: the hidden trap link, always a machine)."""

    link = models.ForeignKey(CampaignLink, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "at"], name="messaging_click_campaign"),
            models.Index(fields=["send", "at"], name="messaging_click_send"),
        ]
