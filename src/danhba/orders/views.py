"""Orders and products pages: the order list with filters, one order with its lines and
refunds, and the product catalogue with its create and edit pages (``catalogue.py``, which the
API calls too). Orders themselves are written by events and the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, current_user, permission_required
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.keyset import BadCursor, Page
from danhba.core.normalize import clean_text
from danhba.orders import catalogue, selectors
from danhba.orders.models import Order, Product


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


class ProductForm(forms.Form):
    """Text fields only: ``catalogue.py`` validates (the same checks as the API) and its messages
    land next to the fields."""

    product_id = forms.CharField(
        label=gettext_lazy("SKU"), max_length=200, help_text=gettext_lazy("Unique, without spaces; fixed once saved.")
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=300)
    category = forms.CharField(label=gettext_lazy("Category"), max_length=200, required=False)
    unit = forms.CharField(
        label=gettext_lazy("Unit"), max_length=30, required=False, help_text=gettext_lazy("e.g. cái, hộp, kg")
    )
    price = forms.CharField(
        label=gettext_lazy("List price"), max_length=40, required=False,
        help_text=gettext_lazy("e.g. 1.234.567"),
    )  # fmt: skip
    currency = forms.CharField(label=gettext_lazy("Currency"), min_length=3, max_length=3)

    def __init__(self, *args: Any, product: Product | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if product is not None:
            del self.fields["product_id"]


def _product(product_id: str) -> Product:
    try:
        return catalogue.product_get(product_id)
    except NotFound:
        raise Http404(_("No such product.")) from None


def _form_data(form: ProductForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data["price"] = data.get("price") or None
    return data


@permission_required(can("order", perms.CREATE))
def product_new(request: HttpRequest) -> HttpResponse:
    initial = {"currency": settings.SHOP_CURRENCY}
    form = ProductForm(request.POST or None, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            product = catalogue.product_create(actor=Actor.from_request(request), data=_form_data(form))
            messages.success(request, _("Product added."))
            return redirect("orders:product_edit", product.product_id)
        except InvalidInput as exc:
            apply_service_error(form, exc)
    context = {"nav": "products", "form": form, "product": None}
    return render(request, "orders/product_form.html", context, status=422 if form.is_bound else 200)


@permission_required(can("order", perms.EDIT))
def product_edit(request: HttpRequest, product_id: str) -> HttpResponse:
    product = _product(product_id)
    initial = {f: getattr(product, f) for f in ("name", "category", "unit", "currency")}
    initial["price"] = catalogue.price_text(product)
    form = ProductForm(request.POST or None, initial=initial, product=product)
    if form.is_bound and form.is_valid():
        try:
            catalogue.product_update(actor=Actor.from_request(request), product=product, data=_form_data(form))
            messages.success(request, _("Product saved."))
            return redirect("orders:product_edit", product.product_id)
        except InvalidInput as exc:
            apply_service_error(form, exc)
    context = {"nav": "products", "form": form, "product": product}
    return render(request, "orders/product_form.html", context, status=422 if form.is_bound else 200)


def purchases_panel(request: HttpRequest, contact: Contact) -> dict[str, Any]:
    """The purchases panel of a contact page (``contacts.extensions.CONTACT_PANELS``)."""
    return selectors.purchases_panel(current_user(request), contact)
