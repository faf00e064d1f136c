"""Pages of price lists (sales settings) and a deal's product lines: pick the deal's price
list, add a product line (its price from the list, still editable), change or remove a line.
Every page calls the services the API calls."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, permission_required
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound
from danhba.sales.forms import DealLineForm, PriceListForm
from danhba.sales.models import DealLine, PriceList
from danhba.sales.services import deals as deal_services
from danhba.sales.services import prices as P


def _price_list(pk: int) -> PriceList:
    try:
        return P.price_list_get(pk)
    except NotFound:
        raise Http404(_("No such price list.")) from None


@permission_required(can("pipeline", perms.VIEW))
def price_lists(request: HttpRequest) -> HttpResponse:
    form = PriceListForm(request.POST or None)
    if form.is_bound and form.is_valid():
        try:
            created = P.price_list_create(actor=Actor.from_request(request), data=form.cleaned_data)
            messages.success(request, _("Price list added."))
            return redirect("sales:price_list", created.pk)
        except InvalidInput as exc:
            apply_service_error(form, exc)
    lists = PriceList.objects.select_related("segment")
    context = {"nav": "sales_prices", "lists": lists, "form": form}
    return render(request, "sales/price_lists.html", context, status=422 if form.is_bound else 200)


@permission_required(can("pipeline", perms.VIEW))
def price_list(request: HttpRequest, pk: int) -> HttpResponse:
    found = _price_list(pk)
    form = PriceListForm(request.POST or None, initial=PriceListForm.initial_for(found))
    actor = Actor.from_request(request)
    if request.method == "POST" and request.POST.get("delete"):
        P.price_list_delete(actor=actor, price_list=found)
        messages.success(request, _("Price list deleted."))
        return redirect("sales:price_lists")
    if form.is_bound and form.is_valid():
        try:
            P.price_list_update(actor=actor, price_list=found, data=form.cleaned_data)
            messages.success(request, _("Price list saved."))
            return redirect("sales:price_list", found.pk)
        except InvalidInput as exc:
            apply_service_error(form, exc)
    items = found.items.select_related("product")
    context = {"nav": "sales_prices", "price_list": found, "form": form, "items": items}
    return render(request, "sales/price_list.html", context, status=422 if form.is_bound else 200)


@require_POST
@permission_required(can("deal", perms.EDIT))
def deal_lines(request: HttpRequest, pk: int) -> HttpResponse:
    """The deal page's forms: ``price_list`` picks the list, ``add`` adds a line, ``line``
    changes one (price, discount, quantity), ``remove`` deletes one."""
    actor = Actor.from_request(request)
    deal = deal_services.deal_get(actor=actor, pk=pk)
    action = request.POST.get("action", "")
    try:
        if action == "price_list":
            raw = request.POST.get("price_list_id", "")
            deal_services.deal_update(
                actor=actor, deal=deal, data={"price_list_id": int(raw) if raw.isdigit() else None}
            )
        elif action == "add":
            _add_line(request, actor, deal)
        elif action in ("line", "remove"):
            _change_line(request, actor, deal, action)
        else:
            return HttpResponse(status=400)
    except InvalidInput as exc:
        messages.error(request, "; ".join(_messages(exc)))
    return redirect("sales:deal", deal.pk)


def _messages(exc: InvalidInput) -> list[str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    return [f"{k}: {m}" for k, ms in details.items() for m in (ms if isinstance(ms, list) else [ms])] or [exc.message]


def _add_line(request: HttpRequest, actor: Actor, deal: Any) -> None:
    form = DealLineForm(request.POST)
    if not form.is_valid():
        raise InvalidInput({k: [str(e) for e in v] for k, v in form.errors.items()})
    deal_services.deal_line_add(actor=actor, deal=deal, data=form.data_for_service())


def _change_line(request: HttpRequest, actor: Actor, deal: Any, action: str) -> None:
    raw = request.POST.get("line_id", "")
    line = DealLine.objects.filter(pk=int(raw) if raw.isdigit() else 0, deal=deal).first()
    if line is None:
        raise Http404(_("No such line."))
    if action == "remove":
        deal_services.deal_line_delete(actor=actor, line=line)
        return
    data: dict[str, Any] = {
        k: request.POST[k].strip().replace(",", ".") for k in ("price", "discount") if request.POST.get(k)
    }
    if request.POST.get("quantity", "").strip().isdigit():
        data["quantity"] = int(request.POST["quantity"])
    deal_services.deal_line_update(actor=actor, line=line, data=data)
