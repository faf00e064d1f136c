"""Writes of web forms: the builder's saves, and what happens to a submission.

A submission is stored first, as it came (``submission_store``), in its own transaction; then
``submission_process`` turns it into a contact in a second one. Processing reads the stored
payload again (so a retry uses today's fields and custom-field rules), and writes the contact
through ``capture.leads.lead_upsert``, the one lead writer of every capture door (matching by
email, then phone; only without either, by the browser's anonymous id or the signed visitor
token; source "form"; a name only completed; a new email or phone added to a matched contact
only with its visitor token as proof), records each ticked consent in the ledger with the
form's exact wording (at once, or when the visitor clicks the double opt-in link), and stores a
``Form Submitted`` event of the internal "forms" source (so it is on the timeline, and segments
and workflows see it). Anything that goes wrong leaves the submission "failed" with the reason,
shown to the form's owners, who can retry it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.capture.forms import fields as ff
from danhba.capture.forms import tokens
from danhba.capture.leads import LeadIn, lead_upsert
from danhba.capture.models import FormDay, FormSubmission, WebForm
from danhba.contacts.models import Contact, Source
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound, ServiceError
from danhba.core.normalize import clean_text, fold
from danhba.messaging import transport
from danhba.messaging.compose import Rendered
from danhba.privacy.models import ConsentPurpose, ConsentSource, ConsentStatus
from danhba.privacy.services import consent_record
from danhba.tracking.models import AnonymousIdentity
from danhba.tracking.services.identity import device_identified, is_junk_id
from danhba.tracking.services.server import ServerEvent, internal_source, server_events_store

log = logging.getLogger(__name__)

SOURCE = "forms"
EVENT = "Form Submitted"
FORM_FIELDS = ("name", "slug", "language", "is_active", "fields", "queue", "consents", "submit_label",
               "thanks_message", "redirect_url", "double_opt_in", "allowed_origins", "min_fill_seconds",
               "contact_tags")  # fmt: skip
MAX_ATTEMPTS_SHOWN = 20


# --- the builder ----------------------------------------------------------------------------


def _text(data: dict[str, Any], key: str, most: int, errors: dict[str, list[str]], required: bool = False) -> str:
    value = data.get(key)
    text = clean_text(value) if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        errors[key] = [_("must be text")]
    elif required and not text:
        errors[key] = [_("cannot be empty")]
    elif len(text) > most:
        errors[key] = [_("at most %(n)s characters") % {"n": most}]
    return text


def _slug(form: WebForm, data: dict[str, Any], errors: dict[str, list[str]]) -> str:
    raw = data.get("slug")
    # Folded first: slugify would drop "đ" ("Nhận ưu đãi" → "nhan-uu-ai").
    slug = slugify(fold(raw if isinstance(raw, str) and raw.strip() else str(data.get("name") or form.name)))[:80]
    if not slug:
        slug = "form"
    if WebForm.objects.filter(slug=slug).exclude(pk=form.pk).exists():
        if "slug" in data and data.get("slug"):
            errors["slug"] = [_("another form already has this address")]
        else:
            slug = f"{slug[:70]}-{WebForm.objects.count() + 1}"
    return slug


def _bool(data: dict[str, Any], key: str, errors: dict[str, list[str]]) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        errors[key] = [_("must be true or false")]
        return False
    return value


def _clean_texts(form: WebForm, data: dict[str, Any], out: dict[str, Any], errors: dict[str, list[str]]) -> None:
    if "name" in data or not form.pk:
        out["name"] = _text(data, "name", 200, errors, required=True)
    if "slug" in data or not form.pk:
        out["slug"] = _slug(form, data, errors)
    for key, most in (("submit_label", 80), ("thanks_message", 2000)):
        if key in data:
            out[key] = _text(data, key, most, errors)
    if "redirect_url" in data:
        url = _text(data, "redirect_url", 500, errors)
        if url and ff.origin_of(url) is None:
            errors["redirect_url"] = [_("must be an http(s) address")]
        out["redirect_url"] = url


def _clean_settings(data: dict[str, Any], out: dict[str, Any], errors: dict[str, list[str]]) -> None:
    if "language" in data:
        if data["language"] not in WebForm.Language.values:
            errors["language"] = [_("must be one of %(choices)s") % {"choices": ", ".join(WebForm.Language.values)}]
        else:
            out["language"] = data["language"]
    for key in ("is_active", "double_opt_in"):
        if key in data:
            out[key] = _bool(data, key, errors)
    if "min_fill_seconds" in data:
        seconds = data["min_fill_seconds"]
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= 600:
            errors["min_fill_seconds"] = [_("must be a whole number of seconds from 0 to 600")]
        else:
            out["min_fill_seconds"] = seconds
    if "contact_tags" in data:
        tags = data["contact_tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            errors["contact_tags"] = [_("must be a list of tag names")]
        else:
            out["contact_tags"] = [clean_text(t)[:60] for t in tags if clean_text(t)][:10]


def _clean_lists(form: WebForm, data: dict[str, Any], out: dict[str, Any], errors: dict[str, list[str]]) -> None:
    fields = ff.clean_questions(data["fields"], "fields", errors, set()) if "fields" in data else form.fields
    if "fields" in data or not form.pk:
        out["fields"] = fields
        if not fields:
            errors.setdefault("fields", [_("a form asks at least one question")])
    if "queue" in data:
        out["queue"] = ff.clean_questions(data["queue"], "queue", errors, {q["target"] for q in fields})
    if "consents" in data:
        purposes = set(ConsentPurpose.objects.filter(is_active=True).values_list("key", flat=True))
        out["consents"] = ff.clean_consents(data["consents"], purposes, errors)
    if "allowed_origins" in data:
        out["allowed_origins"] = ff.clean_origins(data["allowed_origins"], errors)


def _form_values(form: WebForm, data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {key: [_("unknown field")] for key in sorted(set(data) - set(FORM_FIELDS))}
    out: dict[str, Any] = {}
    _clean_texts(form, data, out, errors)
    _clean_settings(data, out, errors)
    _clean_lists(form, data, out, errors)
    fields = out.get("fields", form.fields)
    if fields and not {q["target"] for q in fields} & set(ff.IDENTITY_TARGETS):
        errors.setdefault("fields", [_("a form asks for an email or a phone number, to know who sent it")])
    if out.get("double_opt_in", form.double_opt_in) and not any(
        q["target"] == "email" and q["required"] for q in fields
    ):
        errors.setdefault("double_opt_in", [_("a double opt-in needs a required email question")])
    if errors:
        raise InvalidInput(errors)
    return out


def _audit(actor: Actor, action: str, form: WebForm, changes: dict[str, Any]) -> None:
    audit_event(actor=actor, action=action, object_type="webform", object_id=form.pk, object_label=form.name[:200],
                changes=changes)  # fmt: skip


def webform_create(*, actor: Actor, data: dict[str, Any]) -> WebForm:
    perms.require(actor, "form", perms.CREATE)
    form = WebForm()
    values = _form_values(form, data)
    with transaction.atomic():
        for key, value in values.items():
            setattr(form, key, value)
        form.created_by = actor.user
        try:
            with transaction.atomic():
                form.save()
        except IntegrityError:
            raise InvalidInput({"slug": [_("another form already has this address")]}) from None
        _audit(actor, AuditEvent.Action.CREATE, form, {k: [None, v] for k, v in values.items()})
    return form


def webform_update(*, actor: Actor, form: WebForm, data: dict[str, Any]) -> WebForm:
    perms.require(actor, "form", perms.EDIT)
    values = _form_values(form, data)
    with transaction.atomic():
        form = WebForm.objects.select_for_update().get(pk=form.pk)
        changes = {k: [getattr(form, k), v] for k, v in values.items() if getattr(form, k) != v}
        for key, value in values.items():
            setattr(form, key, value)
        form.updated_at = timezone.now()
        try:
            with transaction.atomic():
                form.save()
        except IntegrityError:
            raise InvalidInput({"slug": [_("another form already has this address")]}) from None
        if changes:
            _audit(actor, AuditEvent.Action.UPDATE, form, changes)
    return form


def webform_delete(*, actor: Actor, form: WebForm) -> None:
    """A form with submissions is switched off, not deleted: they are the proof of consents."""
    perms.require(actor, "form", perms.DELETE)
    with transaction.atomic():
        if form.submissions.exists():
            WebForm.objects.filter(pk=form.pk).update(is_active=False, updated_at=timezone.now())
            _audit(actor, AuditEvent.Action.UPDATE, form, {"is_active": [form.is_active, False]})
            return
        _audit(actor, AuditEvent.Action.DELETE, form, {"name": [form.name, None]})
        form.delete()


# --- counting -------------------------------------------------------------------------------


def form_count(form_id: int, column: str) -> None:
    """Add one to today's ``column`` of the form (views, submissions, blocked_*)."""
    day = timezone.localdate()
    with transaction.atomic():
        if FormDay.objects.filter(form_id=form_id, day=day).update(**{column: F(column) + 1}):
            return
        try:
            with transaction.atomic():
                FormDay.objects.create(form_id=form_id, day=day, **{column: 1})
        except IntegrityError:  # a concurrent first count of the day
            FormDay.objects.filter(form_id=form_id, day=day).update(**{column: F(column) + 1})


# --- a submission ---------------------------------------------------------------------------


def submission_store(
    *,
    form: WebForm,
    payload: dict[str, Any],
    shown: list[str],
    consents: list[dict[str, Any]],
    context: dict[str, Any],
) -> FormSubmission:
    """Store a submission as it came (its own transaction: it survives whatever happens next)."""
    with transaction.atomic():
        submission = FormSubmission.objects.create(
            form=form,
            payload=payload,
            shown=shown,
            consents=consents,
            utm={k: clean_text(v)[:200] for k, v in (context.get("utm") or {}).items() if k in ff.UTM_KEYS and v},
            page_url=clean_text(context.get("page_url") or "")[:1000],
            referrer=clean_text(context.get("referrer") or "")[:1000],
            anonymous_id=clean_text(context.get("anonymous_id") or "")[:200],
            known_contact_id=context.get("known_contact_id"),
            ip=context.get("ip"),
            user_agent=clean_text(context.get("user_agent") or "")[:400],
        )
        form_count(form.pk, "submissions")
    return submission


def _questions_of(submission: FormSubmission) -> list[dict[str, Any]]:
    form = submission.form
    by_target = {q["target"]: q for q in form.all_questions()}
    shown = [by_target[t] for t in submission.shown if t in by_target]
    return shown or list(form.fields)


def _known_contact(submission: FormSubmission, answers: ff.Answers) -> int | None:
    """Answers with neither an email nor a phone are matched by the browser's device id, then
    by the signed visitor token; answers with either are matched by those only (a device id or
    token, which anyone who once typed someone's email could hold, never names the contact then)."""
    if answers.email or answers.phone:
        return None
    contact_id: int | None = None
    if submission.anonymous_id and not is_junk_id(submission.anonymous_id):
        contact_id = (
            AnonymousIdentity.objects.filter(anonymous_id=submission.anonymous_id)
            .values_list("contact_id", flat=True)
            .first()
        )
    return contact_id or submission.known_contact_id


def _lead(submission: FormSubmission, answers: ff.Answers) -> LeadIn:
    """The submission as a lead for ``capture.leads``, the one writer of every capture door: a
    public form vouches for nobody, so it adds an email or phone to a contact it matched only
    with that contact's visitor token (``known_contact_id``); otherwise they make a new contact,
    a suspected duplicate of the matched one."""
    fields = {key: value for key, value in answers.contact.items() if key != "custom"}
    return LeadIn(
        source=Source.FORM,
        fields=fields,
        emails=[answers.email] if answers.email else [],
        phones=[answers.phone_raw or answers.phone] if answers.phone else [],
        custom=dict(answers.contact.get("custom") or {}),
        company=answers.company,
        tags=list(submission.form.contact_tags),
        contact_id=_known_contact(submission, answers),
        vouched=False,
        proof_contact_id=submission.known_contact_id,
        leave_out_refused=False,
    )


def _link_device(submission: FormSubmission, contact: Contact) -> None:
    device = submission.anonymous_id
    if not device or is_junk_id(device):
        return
    if AnonymousIdentity.objects.filter(anonymous_id=device).exists():
        return
    AnonymousIdentity.objects.create(anonymous_id=device, contact=contact, source=internal_source(SOURCE))
    device_identified(device, contact.pk)


def wording_version(form: WebForm, text: str) -> str:
    """Names the exact wording in the ledger's ``text_version``: the form and a hash of it."""
    return f"form:{form.pk}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _consents_record(actor: Actor, submission: FormSubmission, contact: Contact, proof_note: str) -> None:
    form = submission.form
    word = _("submission")  # (not inside the f-string below: makemessages cannot see it there)
    for consent in submission.consents:
        consent_record(
            actor=actor,
            contact=contact,
            purpose=consent["purpose"],
            status=ConsentStatus.GRANTED,
            source=ConsentSource.FORM,
            proof=f"{consent['text']}\n— {form.name} (#{form.pk}), {word} #{submission.pk}"
            f"{', ' + submission.page_url if submission.page_url else ''}{proof_note}",
            text_version=wording_version(form, consent["text"]),
            ip_address=submission.ip,
            recorded_at=submission.confirmed_at or submission.created_at,
        )


def _event(submission: FormSubmission, contact: Contact, answers: ff.Answers) -> None:
    form = submission.form
    properties: dict[str, Any] = {"form_id": form.pk, "form_name": form.name, "submission_id": submission.pk,
                                  **submission.utm}  # fmt: skip
    if submission.page_url:
        properties["page_url"] = submission.page_url
    if submission.referrer:
        properties["referrer"] = submission.referrer
    if answers.message:
        properties["message"] = answers.message
    if answers.company:
        properties["company"] = answers.company
    context: dict[str, Any] = {"page": {"url": submission.page_url, "referrer": submission.referrer}}
    campaign = {k.removeprefix("utm_"): v for k, v in submission.utm.items()}
    if campaign:
        context["campaign"] = {("name" if k == "campaign" else k): v for k, v in campaign.items()}
    server_events_store(
        source=SOURCE,
        events=[ServerEvent(contact_id=contact.pk, name=EVENT, message_id=f"form-submission:{submission.pk}",
                            properties=properties, timestamp=submission.created_at, context=context)],
    )  # fmt: skip


def _error_text(exc: ServiceError) -> str:
    details = getattr(exc, "details", None)
    if isinstance(details, dict) and details:
        parts = [f"{k}: {'; '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in details.items()
                 if k != "contact_id"]  # fmt: skip
        return f"{exc.message} ({', '.join(parts)})" if parts else str(exc.message)
    return str(getattr(exc, "message", exc))


def submission_process(*, submission: FormSubmission) -> FormSubmission:
    """Turn a stored submission into a contact, its consents and its event; on failure the
    submission is marked failed with the reason (nothing else is written)."""
    actor = Actor(user=None, via="form", ip=submission.ip, user_agent=submission.user_agent)
    form = submission.form
    FormSubmission.objects.filter(pk=submission.pk).update(attempts=F("attempts") + 1)
    try:
        with transaction.atomic(), translation.override(form.language):
            answers = ff.read_answers(_questions_of(submission), [], submission.payload)
            if answers.errors:
                raise InvalidInput(answers.errors)
            out = lead_upsert(actor=actor, lead=_lead(submission, answers))
            contact, created = out.contact, out.created
            _link_device(submission, contact)
            if submission.consents and not form.double_opt_in:
                _consents_record(actor, submission, contact, "")
            _event(submission, contact, answers)
            now = timezone.now()
            FormSubmission.objects.filter(pk=submission.pk).update(
                status=FormSubmission.Status.DONE, contact=contact, created_contact=created, error="", processed_at=now
            )
            if form.double_opt_in and submission.consents and answers.email and submission.confirmed_at is None:
                transaction.on_commit(partial(confirmation_send, submission_id=submission.pk, to=answers.email))
    except ServiceError as exc:
        FormSubmission.objects.filter(pk=submission.pk).update(
            status=FormSubmission.Status.FAILED, error=_error_text(exc)[:2000], processed_at=timezone.now()
        )
    submission.refresh_from_db()
    return submission


def submission_retry(*, actor: Actor, submission: FormSubmission) -> FormSubmission:
    perms.require(actor, "submission", perms.EDIT)
    if submission.status == FormSubmission.Status.DONE:
        raise InvalidInput({"status": [_("this submission is already done")]})
    audit_event(actor=actor, action=AuditEvent.Action.UPDATE, object_type="formsubmission", object_id=submission.pk,
                object_label=str(submission), changes={"retried": [None, True]})  # fmt: skip
    return submission_process(submission=submission)


def submissions_sweep(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Submissions left "received" (the request that stored one died before processing it, or
    the database was busy): processed now. Two minutes old at least, so none is in flight."""
    before = (now or timezone.now()) - dt.timedelta(minutes=2)
    stuck = FormSubmission.objects.filter(status=FormSubmission.Status.RECEIVED, created_at__lt=before)
    done = 0
    for submission in stuck.select_related("form").order_by("id")[:limit]:
        submission_process(submission=submission)
        done += 1
    return done


# --- double opt-in --------------------------------------------------------------------------


def confirmation_url(submission_id: int) -> str:
    return settings.SITE_URL + reverse("webforms_public:confirm", args=[tokens.confirm_token(submission_id)])


def confirmation_send(*, submission_id: int, to: str) -> bool:
    """The double opt-in email, through messaging's transport (the one path single emails
    take); a mail server that is down is logged and the owner can see the submission unconfirmed."""
    submission = FormSubmission.objects.select_related("form").get(pk=submission_id)
    form = submission.form
    with translation.override(form.language):
        subject = _("Please confirm: %(form)s") % {"form": form.name}
        text = _(
            "You asked to hear from us through the form “%(form)s”.\n\n"
            "Please confirm by opening this link:\n%(url)s\n\n"
            "If it was not you, ignore this email: nothing more will be sent."
        ) % {"form": form.name, "url": confirmation_url(submission.pk)}
    message = transport.build_message(
        Rendered(subject=subject, preheader="", html="", text=text), to=to, from_address=settings.DEFAULT_FROM_EMAIL
    )
    try:
        with transport.connection() as connection:
            connection.send_messages([message])
    except (smtplib.SMTPException, OSError):
        log.exception("double opt-in email for submission %s failed", submission_id)
        return False
    FormSubmission.objects.filter(pk=submission_id).update(confirm_sent_at=timezone.now())
    return True


def submission_confirm(*, submission_id: int) -> FormSubmission:
    """The visitor clicked the double opt-in link: their consents go into the ledger now."""
    with transaction.atomic():
        # Only the submission's row is locked (the contact is an outer join: PostgreSQL refuses).
        submission = (
            FormSubmission.objects.select_for_update(of=("self",))
            .select_related("form", "contact")
            .filter(pk=submission_id)
            .first()
        )
        if submission is None or submission.contact is None:
            raise NotFound(_("This link is no longer valid."))
        if submission.confirmed_at is not None:
            return submission
        submission.confirmed_at = timezone.now()
        submission.save(update_fields=["confirmed_at"])
        actor = Actor(user=None, via="form")
        note = "\n" + _("confirmed by the email link at %(when)s") % {"when": submission.confirmed_at.isoformat()}
        _consents_record(actor, submission, submission.contact, note)
    return submission
