"""Sending-domain pages (/email/domains/): the list with the last check and, for admins, the
form that adds a domain (a new DKIM key); a domain's page with the DNS records to publish and
each record's verdict; check and delete. Marketing may look; other roles see nothing."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, current_user, permission_required
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound, PermissionDenied
from danhba.messaging import selectors
from danhba.messaging.forms import DomainForm
from danhba.messaging.models import SendingDomain
from danhba.messaging.services import domains as services


def _sending_domain(pk: int) -> SendingDomain:
    try:
        return selectors.sending_domain_get(pk)
    except NotFound as exc:
        raise Http404(exc.message) from None


@permission_required(can("emaildomain", perms.VIEW))
def domain_list(request: HttpRequest) -> HttpResponse:
    """The sending domains with their last check; admins add one here (POST)."""
    form = DomainForm(request.POST or None)
    if request.method == "POST":
        if not current_user(request).can("emaildomain", perms.CREATE):
            raise PermissionDenied(_("Only an admin may add sending domains."))
        if form.is_valid():
            try:
                row = services.domain_create(
                    actor=Actor.from_request(request),
                    domain=form.cleaned_data["domain"],
                    selector=form.cleaned_data["selector"],
                )
            except InvalidInput as exc:
                apply_service_error(form, exc)
            else:
                messages.success(request, _("%(domain)s is added: publish its DNS records.") % {"domain": row.domain})
                return redirect("messaging:domain", pk=row.pk)
    rows = [selectors.sending_domain_view(row) for row in SendingDomain.objects.all()]
    context = {"nav": "email", "domains": rows, "form": form}
    return render(request, "messaging/domain_list.html", context, status=422 if form.errors else 200)


@permission_required(can("emaildomain", perms.VIEW))
def domain_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The DNS records to publish and the last check of each."""
    row = selectors.sending_domain_view(_sending_domain(pk))
    records = [
        {"label": r["check"].upper(), "record": r, "verdict": row["checks"].get(r["check"])} for r in row["records"]
    ]
    return render(request, "messaging/domain_detail.html", {"nav": "email", "d": row, "records": records})


@permission_required(can("emaildomain", perms.EDIT))
@require_POST
def domain_check(request: HttpRequest, pk: int) -> HttpResponse:
    row = services.domain_check(actor=Actor.from_request(request), domain=_sending_domain(pk))
    if row.ready:
        messages.success(request, _("SPF, DKIM and DMARC are in place for %(domain)s.") % {"domain": row.domain})
    else:
        messages.warning(request, _("Some records of %(domain)s need attention.") % {"domain": row.domain})
    return redirect("messaging:domain", pk=row.pk)


@permission_required(can("emaildomain", perms.DELETE))
@require_POST
def domain_delete(request: HttpRequest, pk: int) -> HttpResponse:
    row = _sending_domain(pk)
    services.domain_delete(actor=Actor.from_request(request), domain=row)
    messages.success(request, _("The sending domain %(domain)s is deleted.") % {"domain": row.domain})
    return redirect("messaging:domains")
