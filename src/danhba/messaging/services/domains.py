"""Writes of sending domains: add (a new DKIM key pair), check (the DNS records), delete.

Adding and deleting need the role's "emaildomain: create/delete" (admins), checking
"emaildomain: edit"; marketing may only look. Adding and deleting are audited."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput
from danhba.messaging import domains, transport
from danhba.messaging.models import SendingDomain

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def clean_domain(value: str) -> str:
    """A domain as DNS spells it: lower case, no trailing dot, IDNA (xn--) for Vietnamese
    letters; raises ValueError with the reason."""
    text = (value or "").strip().rstrip(".").lower()
    if "@" in text:
        text = text.rpartition("@")[2]  # an address pasted whole: its domain
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(_("This is not a domain name.")) from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(_("Enter a domain such as anhduong.vn or mail.anhduong.vn."))
    return ascii_name


def _audit(actor: Actor, action: str, domain: SendingDomain, changes: dict[str, list[str | None]]) -> None:
    audit_event(
        actor=actor, action=action, object_type="sending_domain", object_id=domain.pk,
        object_label=domain.domain, changes=changes,
    )  # fmt: skip


def domain_create(*, actor: Actor, domain: str, selector: str = "") -> SendingDomain:
    """Add a domain with a new RSA-2048 DKIM key pair; the records to publish follow from it."""
    perms.require(actor, "emaildomain", perms.CREATE)
    errors: dict[str, list[str]] = {}
    try:
        name = clean_domain(domain)
    except ValueError as exc:
        errors["domain"] = [str(exc)]
    selector = (selector or "").strip().lower() or f"danhba{timezone.now():%Y%m}"
    if not domains.valid_selector(selector):
        errors["selector"] = [_("A selector is letters, digits and hyphens, at most 63.")]
    if errors:
        raise InvalidInput(errors)
    pair = domains.generate_key()
    row = SendingDomain(
        domain=name,
        selector=selector,
        private_key_sealed=domains.seal(pair.private_pem),
        public_key=pair.public_b64,
        created_by=actor.user,
    )
    try:
        with transaction.atomic():
            row.save()
            _audit(actor, AuditEvent.Action.CREATE, row, {"domain": [None, name], "selector": [None, selector]})
    except IntegrityError:
        raise InvalidInput({"domain": [_("%(domain)s is already a sending domain.") % {"domain": name}]}) from None
    transport.forget_domain_keys()
    return row


def domain_check(*, actor: Actor, domain: SendingDomain, lookup: domains.Lookup | None = None) -> SendingDomain:
    """Look up the domain's SPF, DKIM and DMARC records now and keep the verdicts."""
    perms.require(actor, "emaildomain", perms.EDIT)
    verdicts = domains.check(domain.domain, domain.selector, domain.public_key, lookup or domains.dns_lookup)
    domain.check_results = {name: verdict.to_json() for name, verdict in verdicts.items()}
    domain.checked_at = timezone.now()
    domain.save(update_fields=["check_results", "checked_at"])
    return domain


def domain_delete(*, actor: Actor, domain: SendingDomain) -> None:
    """Forget the domain and its key: mail from it is signed with DKIM_PRIVATE_KEY_FILE's key,
    or not at all."""
    perms.require(actor, "emaildomain", perms.DELETE)
    with transaction.atomic():
        _audit(actor, AuditEvent.Action.DELETE, domain, {"domain": [domain.domain, None]})
        domain.delete()
    transport.forget_domain_keys()
