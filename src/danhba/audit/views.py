"""The global audit log: read-only, always."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from danhba.accounts.hooks import hidden_fields
from danhba.audit import selectors
from danhba.audit.forms import AuditFilterForm
from danhba.core.errors import ServiceError
from danhba.core.keyset import Page
from danhba.core.views import AuthedRequest, role_required


@require_http_methods(["GET"])
@role_required("audit", "view")
def audit_log(request: AuthedRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    page: Page[Any] = Page([])
    error = ""
    if form.is_valid():
        try:
            page = selectors.audit_page(form.filters(), cursor=request.GET.get("cursor") or None, user=request.user)
        except ServiceError as exc:
            error = exc.message
    context = {
        "nav": "audit",
        "form": form,
        "page": page,
        "rows": selectors.audit_rows(page.items, hidden_fields(request.user)),
        "error": error,
    }
    template = "audit/_results.html" if request.htmx else "audit/log.html"
    return render(request, template, context)
