"""Writes of the messaging app: email templates and the test send.

Every write checks the role's "email" permission, cleans its input through ``core.normalize``,
compiles the template (a template that cannot render is refused with the reason per field) and
writes its audit row in the same transaction."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, ServiceError
from danhba.core.normalize import NormalizationError, clean_long_text, clean_text, normalize_email
from danhba.messaging import compose, transport
from danhba.messaging.compose import PartProblem, Parts, Rendered
from danhba.messaging.models import EmailTemplate

TEXT_FIELDS = ("name", "subject", "preheader", "sender_name")
LONG_FIELDS = ("body", "text_body")
EMAIL_FIELDS = ("sender_email", "reply_to")
FIELDS = (*TEXT_FIELDS, *LONG_FIELDS, *EMAIL_FIELDS, "kind", "format")
MAX_BODY_CHARS = 500_000


class SendFailed(ServiceError):
    """The mail server refused or could not be reached; the message says what it answered."""

    status = 502
    code = "send_failed"


def parts_of(template: EmailTemplate) -> Parts:
    return Parts(
        subject=template.subject,
        preheader=template.preheader,
        body=template.body,
        text_body=template.text_body,
        mjml=template.format == EmailTemplate.Format.MJML,
        marketing=template.is_marketing,
    )


def _max_length(field: str) -> int:
    return int(getattr(EmailTemplate._meta.get_field(field), "max_length", None) or MAX_BODY_CHARS)


def _clean_value(field: str, value: Any, errors: dict[str, list[str]]) -> Any:
    if field in TEXT_FIELDS:
        return clean_text(value)
    if field in LONG_FIELDS:
        return clean_long_text(value)
    if field in EMAIL_FIELDS:
        return _clean_address(field, value, errors)
    if field == "kind" and value not in EmailTemplate.Kind.values:
        errors[field] = [_("Choose marketing or transactional.")]
    elif field == "format" and value not in EmailTemplate.Format.values:
        errors[field] = [_("Choose HTML or MJML.")]
    return value


def _clean(data: Mapping[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for field in FIELDS:
        if field not in data:
            continue
        value = _clean_value(field, data[field], errors)
        if isinstance(value, str) and len(value) > _max_length(field):
            errors[field] = [_("At most %(n)s characters.") % {"n": _max_length(field)}]
        cleaned[field] = value
    for field in ("name", "subject"):
        if field in cleaned and not cleaned[field]:
            errors[field] = [_("This field is required.")]
    return cleaned


def _clean_address(field: str, value: Any, errors: dict[str, list[str]]) -> str:
    if not clean_text(value):
        return ""
    try:
        return normalize_email(value)
    except NormalizationError as exc:
        errors[field] = [str(exc)]
        return ""


def _check_renders(parts: Parts, errors: dict[str, list[str]]) -> None:
    """A template is saved only if every part parses (a render for a real contact can still
    hit a limit; the preview shows it)."""
    if not parts.body.strip() and not parts.text_body.strip():
        errors.setdefault("body", []).append(_("Write the HTML body or the plain text (or both)."))
        return
    try:
        compose.compile_parts(parts)
    except PartProblem as exc:
        errors.setdefault(exc.field, []).append(str(exc))


def _audit(
    actor: Actor, action: str, template: EmailTemplate, changes: dict[str, Any], contact_id: int | None = None
) -> None:
    audit_event(
        actor=actor, action=action, object_type="email_template", object_id=template.pk,
        object_label=template.name[:254], changes=changes, contact_id=contact_id,
    )  # fmt: skip


def template_create(*, actor: Actor, data: Mapping[str, Any]) -> EmailTemplate:
    perms.require(actor, "email", perms.CREATE)
    errors: dict[str, list[str]] = {}
    cleaned = _clean({"name": "", "subject": "", **data}, errors)
    template = EmailTemplate(**cleaned)
    if not errors:
        _check_renders(parts_of(template), errors)
    if errors:
        raise InvalidInput(errors)
    try:
        with transaction.atomic():
            template.created_by = actor.user
            template.save()
            _audit(actor, AuditEvent.Action.CREATE, template, {k: [None, v] for k, v in cleaned.items() if v})
    except IntegrityError:
        raise InvalidInput({"name": [_("A template with this name exists already.")]}) from None
    return template


def template_update(*, actor: Actor, template: EmailTemplate, data: Mapping[str, Any]) -> EmailTemplate:
    """Change the fields given."""
    perms.require(actor, "email", perms.EDIT)
    errors: dict[str, list[str]] = {}
    cleaned = _clean(data, errors)
    if errors:
        raise InvalidInput(errors)
    try:
        with transaction.atomic():
            template = EmailTemplate.objects.select_for_update().get(pk=template.pk)
            changes = {k: [getattr(template, k), v] for k, v in cleaned.items() if getattr(template, k) != v}
            for key, value in cleaned.items():
                setattr(template, key, value)
            _check_renders(parts_of(template), errors)
            if errors:
                raise InvalidInput(errors)
            if changes:
                template.updated_at = timezone.now()
                template.save(update_fields=[*cleaned, "updated_at"])
                _audit(actor, AuditEvent.Action.UPDATE, template, changes)
    except IntegrityError:
        raise InvalidInput({"name": [_("A template with this name exists already.")]}) from None
    return template


def template_delete(*, actor: Actor, template: EmailTemplate) -> None:
    perms.require(actor, "email", perms.DELETE)
    if template.campaigns.exists():
        raise Conflict(_("Campaigns use this template; delete them first."))
    with transaction.atomic():
        _audit(actor, AuditEvent.Action.DELETE, template, {"name": [template.name, None]})
        template.delete()


def render_parts(parts: Parts, tokens: Mapping[str, Any]) -> Rendered:
    """The email for one set of tokens, or InvalidInput with the author's problem per field."""
    try:
        return compose.render(compose.compile_parts(parts), tokens, ad_label=settings.MESSAGING_AD_LABEL)
    except PartProblem as exc:
        raise InvalidInput({exc.field: [str(exc)]}, message=str(exc)) from None


@dataclass(frozen=True)
class TestSent:
    to: str
    message_id: str
    subject: str


def template_test_send(
    *, actor: Actor, template: EmailTemplate, to: str, tokens: Mapping[str, Any], contact: Contact | None = None
) -> TestSent:
    """Send the template, rendered with ``tokens`` (a chosen contact's, or the sample), to any
    address, now, through the configured transport. Audited as an export when it carries a real
    contact's data."""
    perms.require(actor, "email", perms.EDIT)
    try:
        address = normalize_email(to)
    except NormalizationError as exc:
        raise InvalidInput({"to": [str(exc)]}) from None
    rendered = render_parts(parts_of(template), tokens)
    message = transport.build_message(
        rendered,
        to=address,
        from_address=template.from_address,
        from_name=template.sender_name,
        reply_to=template.reply_to,
        headers={"X-Danhba-Test": "1"},
    )
    try:
        with transport.connection() as connection:
            connection.send_messages([message])
    except (smtplib.SMTPException, OSError) as exc:
        raise SendFailed(_("The mail server did not take the message: %(error)s") % {"error": exc}) from None
    # Audited as an export: the message may carry a contact's data out to any address.
    changes = {"test_sent_to": [None, address]}
    _audit(actor, AuditEvent.Action.EXPORT, template, changes, contact_id=contact.pk if contact else None)
    return TestSent(to=address, message_id=str(message.extra_headers["Message-ID"]), subject=rendered.subject)
