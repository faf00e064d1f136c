"""Reads of the messaging app: templates, and the tokens a template is rendered with.

The tokens are plain dicts, strings and numbers (Liquid never sees a model instance: no path to
Python objects, liquid.py). What a reader may not see stays out of their preview: the fields
hidden from their role (``contacts.selectors.hidden_fields``) are left out, and without gender
the form of address falls back to the template's ``default``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from danhba.accounts.models import User
from danhba.contacts.models import Contact, ContactCompany, ContactEmail
from danhba.contacts.selectors import active_custom_keys, hidden_fields, visible_custom_values
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.keyset import Page, paginate
from danhba.messaging import domains
from danhba.messaging.links import Recipient, consent_links
from danhba.messaging.models import Campaign, CampaignLink, Click, EmailTemplate, Open, Send, SendingDomain, Suppression
from danhba.messaging.preferences import masked_email
from danhba.privacy.models import ConsentPurpose, ConsentState, ConsentStatus

CONTACT_FIELDS = (
    "full_name", "family_name", "middle_name", "given_name", "email", "phone", "street", "ward", "province",
    "country", "job_title", "occupation", "education", "source",
)  # fmt: skip
SENSITIVE_TOKENS = ("gender", "birthday")


def template_list() -> QuerySet[EmailTemplate]:
    return EmailTemplate.objects.select_related("created_by")


def template_get(pk: int) -> EmailTemplate:
    try:
        return EmailTemplate.objects.get(pk=pk)
    except EmailTemplate.DoesNotExist:
        raise NotFound(_not_found()) from None


def _not_found() -> str:
    from django.utils.translation import gettext

    return gettext("There is no such email template.")


def xung_ho(gender: str) -> str:
    """The Vietnamese form of address from gender: "anh" (an older brother, polite for a man),
    "chị" (for a woman); empty when unknown, so ``{{ xung_ho | default: "bạn" }}`` decides."""
    return {"male": "anh", "female": "chị"}.get(gender, "")


def contact_tokens(
    contact: Contact, *, hidden: Iterable[str] = (), campaign_id: int = 0, active_custom: set[str] | None = None
) -> dict[str, Any]:
    """Everything a template may say about one contact, as plain values."""
    link = (
        ContactCompany.objects.filter(contact=contact).select_related("company").order_by("-is_primary", "id").first()
    )
    return _tokens(contact, link, set(hidden), campaign_id, active_custom)


def campaign_tokens(contacts: Iterable[Contact], *, campaign_id: int, links: bool = True) -> dict[int, dict[str, Any]]:
    """:func:`contact_tokens` for a batch of recipients (contacts loaded with owner and stage),
    with one query for their companies. ``links=False``: without the consent links, which the
    send job adds with the token it also puts in the headers."""
    contacts = list(contacts)
    companies: dict[int, ContactCompany] = {}
    rows = ContactCompany.objects.filter(contact__in=contacts).select_related("company").order_by("-is_primary", "id")
    for link in rows:
        companies.setdefault(link.contact_id, link)
    active = active_custom_keys("contact")
    return {c.pk: _tokens(c, companies.get(c.pk), set(), campaign_id, active, links) for c in contacts}


def _tokens(
    contact: Contact,
    link: ContactCompany | None,
    hidden: set[str],
    campaign_id: int,
    active_custom: set[str] | None,
    links: bool = True,
) -> dict[str, Any]:
    data: dict[str, Any] = {"id": contact.pk, **{f: getattr(contact, f) or "" for f in CONTACT_FIELDS}}
    data["name"] = contact.display_name
    data["lifecycle_stage"] = contact.lifecycle_stage.label if contact.lifecycle_stage_id else ""
    data["gender"] = "" if "gender" in hidden else contact.gender
    data["birthday"] = "" if "birthday" in hidden or not contact.birthday else contact.birthday.isoformat()
    data["custom"] = {
        k: v if isinstance(v, (str, int, float, bool)) else str(v)
        for k, v in visible_custom_values(contact.custom, "contact", hidden, active_custom).items()
    }
    company = link.company if link else None
    owner = contact.owner
    tokens: dict[str, Any] = {
        "contact": data,
        "xung_ho": xung_ho(data["gender"]),
        "company": {
            "name": company.name if company else "",
            "industry": company.industry if company else "",
            "website": company.website if company else "",
            "province": company.province if company else "",
            "job_title": link.job_title if link else "",
        },
        "owner": {"name": str(owner) if owner else "", "email": owner.email if owner else ""},
    }
    if links:
        tokens["links"] = consent_links(Recipient(contact_id=contact.pk, campaign_id=campaign_id))
    return tokens


def sample_tokens() -> dict[str, Any]:
    """A made-up contact for previews and test sends without a chosen contact."""
    contact = {
        "id": 0, "name": "Nguyễn Thị Mai", "full_name": "Nguyễn Thị Mai", "family_name": "Nguyễn",
        "middle_name": "Thị", "given_name": "Mai", "email": "mai.nguyen@example.vn", "phone": "+84912345678",
        "street": "12 Lê Lợi", "ward": "Bến Nghé", "province": "Hồ Chí Minh", "country": "VN",
        "job_title": "Trưởng phòng", "occupation": "", "education": "", "source": "", "lifecycle_stage": "Lead",
        "gender": "female", "birthday": "", "custom": {},
    }  # fmt: skip
    return {
        "contact": contact,
        "xung_ho": xung_ho("female"),
        "company": {"name": "Công ty ABC", "industry": "", "website": "", "province": "", "job_title": ""},
        "owner": {"name": "", "email": ""},
        "links": consent_links(Recipient(contact_id=0)),
    }


def preview_tokens(user: User, contact: Contact | None) -> dict[str, Any]:
    if contact is None:
        return sample_tokens()
    return contact_tokens(contact, hidden=hidden_fields(user), active_custom=active_custom_keys("contact"))


def preview_contact(user: User, contact_id: int | None) -> Contact | None:
    """The contact a preview or test send is rendered for: one the user may open, else NotFound."""
    if not contact_id:
        return None
    contact = Contact.objects.visible_to(user).select_related("owner", "lifecycle_stage").filter(pk=contact_id).first()
    if contact is None:
        raise NotFound(_not_found_contact())
    return contact


def _not_found_contact() -> str:
    from django.utils.translation import gettext

    return gettext("There is no such contact, or it is outside your records.")


def contact_lookup(user: User, text: str) -> Contact | None:
    """The contact a preview names by number (``42`` or ``#42``) or email; None for empty text."""
    text = text.strip().removeprefix("#")
    if not text:
        return None
    if text.isascii() and text.isdigit() and len(text) < 19:
        return preview_contact(user, int(text))
    email = ContactEmail.objects.filter(email=text.lower()).values_list("contact_id", flat=True).first()
    return preview_contact(user, email or -1)


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.filter(parent__isnull=True).select_related("template", "created_by", "topic")


def campaign_get(pk: int) -> Campaign:
    campaign = Campaign.objects.select_related("template", "topic").filter(pk=pk).first()
    if campaign is None:
        from django.utils.translation import gettext

        raise NotFound(gettext("There is no such campaign."))
    return campaign


def recipient_page(
    campaign: Campaign, *, state: str = "", reason: str = "", cursor: str | None = None, limit: int = 50
) -> Page[Send]:
    """A campaign's recipients in id order (the send log), by state and exclusion reason."""
    from django.utils.translation import gettext

    errors: dict[str, list[str]] = {}
    if state and state not in Send.State.values:
        errors["state"] = [gettext("must be one of %(choices)s") % {"choices": ", ".join(Send.State.values)}]
    if reason and reason not in Send.Reason.values:
        errors["reason"] = [gettext("must be one of %(choices)s") % {"choices": ", ".join(Send.Reason.values)}]
    if errors:
        raise InvalidInput(errors)
    qs = Send.objects.filter(campaign=campaign).select_related("contact")
    if state:
        qs = qs.filter(state=state)
    if reason:
        qs = qs.filter(reason=reason)
    return paginate(qs, "id", cursor, limit)


def sending_domain_get(pk: int) -> SendingDomain:
    from django.utils.translation import gettext

    try:
        return SendingDomain.objects.get(pk=pk)
    except SendingDomain.DoesNotExist:
        raise NotFound(gettext("There is no such sending domain.")) from None


def sending_domain_view(row: SendingDomain) -> dict[str, Any]:
    """A sending domain for the API and the page: the records to publish and the last check,
    its reasons in the active language. Never the private key."""
    return {
        "id": row.pk,
        "domain": row.domain,
        "selector": row.selector,
        "public_key": row.public_key,
        "created_at": row.created_at,
        "checked_at": row.checked_at,
        "ready": row.ready,
        "checks": {
            name: {"status": v.status, "reason": str(v.why), "found": v.found} for name, v in row.verdicts().items()
        },
        "records": [
            {"check": r.check, "name": r.name, "value": r.value, "zone_value": r.zone_value}
            for r in domains.records(row.domain, row.selector, row.public_key)
        ],
    }


# --- the preference centre ---------------------------------------------------------------------


@dataclass(frozen=True)
class TopicChoice:
    key: str
    label: str
    description: str
    subscribed: bool  # no statement yet counts as subscribed: a topic is opted out of


@dataclass(frozen=True)
class PreferenceView:
    """What the preference centre shows a recipient: nothing but their masked address and their
    own choices."""

    email: str
    status: str  # "subscribed", "paused" or "unsubscribed"
    paused_until: dt.datetime | None
    topics: list[TopicChoice]


def preferences_of(contact_id: int) -> PreferenceView | None:
    """None when the contact no longer exists."""
    contact = Contact.objects.filter(pk=contact_id).only("pk", "email").first()
    if contact is None:
        return None
    states = {s.purpose.key: s for s in ConsentState.objects.filter(contact=contact).select_related("purpose")}
    now = timezone.now()
    main = states.get(settings.MESSAGING_CONSENT_PURPOSE)
    paused_until = main.until if main and main.status == ConsentStatus.WITHDRAWN and main.until else None
    if paused_until and paused_until <= now:
        paused_until = None  # over: granted again (the job records it)
    granted = main is not None and (main.status == ConsentStatus.GRANTED or (main.until and not paused_until))
    suppressed = bool(contact.email) and Suppression.objects.filter(email=contact.email).exists()
    status = "unsubscribed" if suppressed else "paused" if paused_until else "subscribed" if granted else "unsubscribed"
    topics = [
        TopicChoice(
            key=p.key,
            label=p.label,
            description=p.description,
            subscribed=p.key not in states or states[p.key].status == ConsentStatus.GRANTED,
        )
        for p in ConsentPurpose.objects.filter(email_topic=True, is_active=True)
    ]
    return PreferenceView(email=masked_email(contact.email), status=status, paused_until=paused_until, topics=topics)


# --- opens and clicks (services/activity.py writes them) -----------------------------------------


def activity_page(
    user: User,
    campaign: Campaign,
    model: type[Open] | type[Click],
    *,
    machine: bool | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[Any]:
    """A campaign's opens or clicks in id order, only of contacts the reader may open; ``machine``
    keeps only machines' (True) or people's (False)."""
    qs: Any = model.objects.filter(campaign=campaign, contact__in=Contact.objects.visible_to(user).values("pk"))
    if machine is not None:
        qs = qs.filter(machine=machine)
    if model is Click:
        qs = qs.select_related("link")
    return paginate(qs, "id", cursor, limit)


def campaign_links_of(campaign: Campaign) -> list[CampaignLink]:
    return list(CampaignLink.objects.filter(campaign=campaign))


def campaign_choices() -> list[tuple[int, str]]:
    """Campaigns a segment's email condition can name: those that have started, newest first."""
    started = Campaign.objects.exclude(status__in=(Campaign.Status.DRAFT, Campaign.Status.SCHEDULED))
    return [(pk, name) for pk, name in started.order_by("-id").values_list("pk", "name")[:500]]


def campaign_names(ids: Iterable[int]) -> dict[int, str]:
    return dict(Campaign.objects.filter(pk__in=list(ids)).values_list("pk", "name"))
