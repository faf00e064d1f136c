"""Price lists (role object "pipeline": sales settings): per currency and customer group (a
segment or list), valid between dates, tried by priority; per-product prices or a % off the
product's list price. A deal's product line takes its price from the deal's chosen list, else
from the first list that applies to the deal's primary contact, and remembers which list it was
(the price stays editable)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound
from danhba.orders.models import Product
from danhba.sales import checks as C
from danhba.sales.models import Deal, PriceList, PriceListItem
from danhba.sales.services.common import audit, diff, snapshot

LIST_FIELDS = ("name", "currency", "segment_id", "valid_from", "valid_until", "priority", "discount_percent",
               "is_active")  # fmt: skip
MAX_ITEMS = 5000
CENT = Decimal("0.01")


def _percent(data: dict[str, Any], key: str, errors: C.Errors) -> Decimal | None:
    raw = data.get(key)
    try:
        if isinstance(raw, bool) or raw in (None, ""):
            raise InvalidOperation
        value = Decimal(str(raw).strip())
        if not value.is_finite() or not 0 <= value <= 100:
            raise InvalidOperation
        return value.quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        C.add(errors, key, _("must be a percentage from 0 to 100"))
        return None


def _list_values(data: dict[str, Any], price_list: PriceList) -> dict[str, Any]:
    errors: C.Errors = {}
    out: dict[str, Any] = {}
    if "name" in data or not price_list.pk:
        out["name"] = C.text(data, "name", errors, most=120)
        if PriceList.objects.filter(name=out["name"]).exclude(pk=price_list.pk).exists():
            C.add(errors, "name", _("A price list with this name exists."))
    if "currency" in data:
        out["currency"] = C.currency(data, "currency", errors)
    _group_and_dates(data, price_list, out, errors)
    if "priority" in data:
        out["priority"] = C.whole(data, "priority", errors, low=0, high=1_000_000)
    if "discount_percent" in data:
        out["discount_percent"] = _percent(data, "discount_percent", errors)
    if "is_active" in data:
        out["is_active"] = data["is_active"] is True
    if errors:
        raise InvalidInput(errors)
    return out


def _group_and_dates(data: dict[str, Any], price_list: PriceList, out: dict[str, Any], errors: C.Errors) -> None:
    from danhba.segments.models import Segment

    if "segment_id" in data:
        sid = C.one_id(data, "segment_id", errors)
        if sid is not None and not Segment.objects.filter(pk=sid).exists():
            C.add(errors, "segment_id", _("No such segment or list."))
        out["segment_id"] = sid
    for key in ("valid_from", "valid_until"):
        if key in data:
            out[key] = C.date(data, key, errors)
    start = out.get("valid_from", price_list.valid_from)
    end = out.get("valid_until", price_list.valid_until)
    if start and end and end < start:
        C.add(errors, "valid_until", _("must not be before the start"))


def price_list_get(pk: int) -> PriceList:
    found = PriceList.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such price list."))
    return found


def price_list_create(*, actor: Actor, data: dict[str, Any]) -> PriceList:
    perms.require(actor, "pipeline", perms.CREATE)
    price_list = PriceList()
    for key, value in _list_values(data, price_list).items():
        setattr(price_list, key, value)
    items = _items(data["items"]) if "items" in data else None
    with transaction.atomic():
        price_list.save()
        audit(actor, AuditEvent.Action.CREATE, price_list, diff({}, snapshot(price_list, LIST_FIELDS)))
        if items is not None:
            _items_write(actor, price_list, items)
    return price_list


def price_list_update(*, actor: Actor, price_list: PriceList, data: dict[str, Any]) -> PriceList:
    """Change its fields; ``items`` replaces every product price of the list."""
    perms.require(actor, "pipeline", perms.EDIT)
    values = _list_values(data, price_list)
    items = _items(data["items"]) if "items" in data else None
    changes = diff(snapshot(price_list, LIST_FIELDS), values)
    with transaction.atomic():
        if changes:
            for key, value in values.items():
                setattr(price_list, key, value)
            price_list.save()
            audit(actor, AuditEvent.Action.UPDATE, price_list, changes)
        if items is not None:
            _items_write(actor, price_list, items)
    return price_list


def price_list_delete(*, actor: Actor, price_list: PriceList) -> None:
    perms.require(actor, "pipeline", perms.DELETE)
    with transaction.atomic():
        audit(actor, AuditEvent.Action.DELETE, price_list, {"name": [price_list.name, None]})
        price_list.delete()


def _items(raw: Any) -> list[dict[str, Any]]:
    """[{product_id, price} or {product_id, discount_percent}], each product once."""
    errors: C.Errors = {}
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
        raise InvalidInput({"items": [_("must be a list of at most %(n)s prices") % {"n": MAX_ITEMS}]})
    out: list[dict[str, Any]] = []
    for n, row in enumerate(raw):
        if not isinstance(row, dict):
            C.add(errors, f"items.{n}", _("must be an object"))
            continue
        key = f"items.{n}"
        item: dict[str, Any] = {"product_id": C.one_id(row, "product_id", errors)}
        has_price = row.get("price") not in (None, "")
        has_pct = row.get("discount_percent") not in (None, "")
        if has_price == has_pct:
            C.add(errors, key, _("give a price or a discount in percent"))
        item["price"] = C.money(row, "price", errors) if has_price else None
        item["discount_percent"] = _percent(row, "discount_percent", errors) if has_pct else None
        out.append(item)
    ids = [i["product_id"] for i in out if i["product_id"]]
    known = set(Product.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if len(set(ids)) != len(ids):
        C.add(errors, "items", _("A product is listed twice."))
    if set(ids) - known:
        C.add(errors, "items", _("No such product: %s") % sorted(set(ids) - known)[0])
    if errors:
        raise InvalidInput(errors)
    return out


def _items_write(actor: Actor, price_list: PriceList, items: list[dict[str, Any]]) -> None:
    price_list.items.all().delete()
    PriceListItem.objects.bulk_create([PriceListItem(price_list=price_list, **i) for i in items], batch_size=1000)
    audit(actor, AuditEvent.Action.UPDATE, price_list, {"items": [None, len(items)]})


# --- prices of a deal's lines -------------------------------------------------------------------


def applicable(contact_id: int | None, currency: str, on: dt.date) -> list[PriceList]:
    """The active lists for this currency valid on ``on`` whose group holds the contact (or
    with no group), by priority."""
    from danhba.segments.models import SegmentMember

    lists = PriceList.objects.filter(is_active=True, currency=currency)
    lists = lists.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=on))
    lists = lists.filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
    groups = (
        set(SegmentMember.objects.filter(contact_id=contact_id).values_list("segment_id", flat=True))
        if contact_id
        else set()
    )
    return [p for p in lists.order_by("priority", "id") if p.segment_id is None or p.segment_id in groups]


def list_price(price_list: PriceList, product: Product) -> Decimal | None:
    """The product's price in this list, or None when the list says nothing about it."""
    item = PriceListItem.objects.filter(price_list=price_list, product=product).first()
    if item is not None and item.price is not None:
        return item.price
    percent = item.discount_percent if item is not None else price_list.discount_percent
    if not percent or product.price is None or product.currency != price_list.currency:
        return None
    return (product.price * (100 - percent) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def price_for(deal: Deal, product: Product, on: dt.date | None = None) -> tuple[Decimal | None, PriceList | None]:
    """The price of a product on a deal's line, and the list it came from (None, None: no list
    says; the product's own list price is the default then)."""
    on = on or timezone.localdate()
    lists = [deal.price_list] if deal.price_list_id and deal.price_list else []
    lists = lists or applicable(deal.primary_contact_id, deal.currency, on)
    for price_list in lists:
        price = list_price(price_list, product)
        if price is not None:
            return price, price_list
    return None, None
