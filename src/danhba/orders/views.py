"""Orders and products pages: the order list with filters, one order with its lines and
refunds, and the product catalogue. Reads only; orders are written by events and the API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from danhba.accounts import permissions as perms
from danhba.accounts.views import can, current_user, permission_required
from danhba.contacts.models import Contact
from danhba.core.errors import InvalidInput
from danhba.core.keyset import BadCursor, Page
from danhba.core.normalize import clean_text
from danhba.orders import selectors
from danhba.orders.models import Order


@permission_required(can("order", perms.VIEW))
def order_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    context: dict[str, Any] = {
        "nav": "orders",
        "statuses": Order.Status.choices,
        "channels": Order.SalesChannel.choices,
        "params": request.GET,
        "shop_currency": settings.SHOP_CURRENCY,
    }
    status = 200
    try:
        filters = selectors.OrderFilters.from_params(request.GET)
        context["page"] = selectors.order_page(user, filters, cursor=request.GET.get("cursor") or None)
        context["filters_active"] = bool(filters.params())
    except (InvalidInput, BadCursor) as exc:
        context["page"] = Page([])
        context["errors"] = exc.details or {"cursor": [exc.message]}
        status = 400
    template = "orders/_order_results.html" if request.htmx else "orders/order_list.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


@permission_required(can("order", perms.VIEW))
def order_detail(request: HttpRequest, order_id: str) -> HttpResponse:
    order = selectors.order_get(current_user(request), order_id)
    lines = list(order.lines.all())
    return render(
        request,
        "orders/order_detail.html",
        {"nav": "orders", "order": order, "lines": lines, "shop_currency": settings.SHOP_CURRENCY},
    )


@permission_required(can("order", perms.VIEW))
def product_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    q, category = clean_text(request.GET.get("q"))[:200], clean_text(request.GET.get("category"))[:200]
    try:
        page = selectors.product_page(user, q=q, category=category, cursor=request.GET.get("cursor") or None)
    except BadCursor as exc:
        raise Http404(exc.message) from None
    context = {
        "nav": "products",
        "page": page,
        "q": q,
        "category": category,
        "categories": selectors.product_categories(),
    }
    return render(request, "orders/product_list.html", context)


def purchases_panel(request: HttpRequest, contact: Contact) -> dict[str, Any]:
    """The purchases panel of a contact page (``contacts.extensions.CONTACT_PANELS``)."""
    return selectors.purchases_panel(current_user(request), contact)
