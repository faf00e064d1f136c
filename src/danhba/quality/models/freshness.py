"""How fresh each contact's data is, and the signals that it went stale (issue 16).

``Freshness`` is one row per contact, kept current by the worker (``services/freshness.py``)
from the contact writes' ``contacts.changed`` and by nightly jobs, so segments and the
dashboard read a column, never a computation per page view. ``DecaySignal`` is one row per
contact and kind of evidence that the data may be wrong (a hard bounce, a dead phone, a mail
domain without a mail server, inactivity, a new job title or company seen in an import).
``MailDomain`` caches the MX lookups, one row per domain, with a time to live."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact


class Freshness(models.Model):
    """The freshness of one contact: when a person last confirmed its data (``verified_at``),
    its newest activity (the contact's own, events other than email sends and bounces, orders),
    and ``seen_at``, the newer of the two, which ages the data. ``needs_verification`` and
    ``reasons`` (the kinds of its :class:`DecaySignal` rows) are copied here so one index
    answers "needs verification"."""

    contact = models.OneToOneField(Contact, primary_key=True, on_delete=models.CASCADE, related_name="freshness")
    verified_at = models.DateTimeField(_("last verified"), null=True, blank=True)
    verified_by = models.CharField(max_length=200, blank=True)
    last_activity_at = models.DateTimeField(_("last activity"))
    seen_at = models.DateTimeField(_("fresh as of"))
    needs_verification = models.BooleanField(_("needs verification"), default=False)
    reasons = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["seen_at", "contact"], name="freshness_seen"),
            models.Index(fields=["needs_verification", "contact"], name="freshness_needs"),
        ]


class FreshnessDirty(models.Model):
    """A contact whose freshness must be computed again (claimed like ``core.claims`` says)."""

    id = models.BigAutoField(primary_key=True)
    contact_id = models.BigIntegerField(unique=True)
    marked_at = models.DateTimeField(default=timezone.now)
    claim = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)


class DecaySignal(models.Model):
    """One kind of evidence that a contact's data decayed. ``detail`` says what (the address,
    the number, the old and new job title and the import); ``seen_at`` when it was seen."""

    class Kind(models.TextChoices):
        BOUNCED = "bounced", _("Email hard-bounced")
        NO_MAIL_SERVER = "no_mx", _("Email domain has no mail server")
        BAD_PHONE = "bad_phone", _("Phone number not valid")
        OLD_PHONE = "old_phone", _("Phone in the old 11-digit format")
        INACTIVE = "inactive", _("Inactive for a long time")
        JOB_CHANGE = "job_change", _("Job title changed in an import")
        COMPANY_CHANGE = "company_change", _("Company changed in an import")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="decay_signals", db_index=False)
    kind = models.CharField(_("signal"), max_length=20, choices=Kind.choices)
    detail = models.JSONField(default=dict, blank=True)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "kind"], name="decaysignal_unique")]
        indexes = [models.Index(fields=["kind", "contact"], name="decaysignal_kind")]


class ImportSignal(models.Model):
    """A job title or company an import changed (read from ``ingest.ImportChange`` after the
    cursor in :class:`QualityState`), kept until the contact is verified after it."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=DecaySignal.Kind.choices)
    import_id = models.BigIntegerField()
    before = models.CharField(max_length=200, blank=True)
    after = models.CharField(max_length=200, blank=True)
    seen_at = models.DateTimeField(default=timezone.now)


class MailDomain(models.Model):
    """The MX lookup of one email domain: ``has_mail`` is None until looked up (or when the
    lookup failed: nothing is known), True when it has a mail server (MX, or an address record
    as RFC 5321 falls back to), False when the name does not exist or has a null MX."""

    domain = models.CharField(max_length=253, unique=True)
    has_mail = models.BooleanField(null=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    error = models.CharField(max_length=120, blank=True)


class QualityState(models.Model):
    """Small named values the jobs keep between runs (cursors)."""

    key = models.CharField(max_length=60, unique=True)
    value = models.JSONField(default=dict)
