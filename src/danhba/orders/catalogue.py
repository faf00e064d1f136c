"""The product catalogue by hand: create and edit a product (page and API, role object "order":
create / edit). ``product_id`` is the SKU: unique, fixed once created (order lines and price
lists point at it). A product a user created or edited is marked ``edited_at``: orders naming it
later fill only what is still empty and never overwrite its name, category, unit or price."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound
from danhba.orders.models import Product
from danhba.orders.services import CURRENCY_CODE, parse_money, text_field

FIELDS = ("name", "category", "unit", "price", "currency")
# A SKU: printable, no spaces (order lines and links carry it as is).
_SKU = re.compile(r"^[^\s\x00-\x1f\x7f]{1,200}$")
_THOUSANDS = re.compile(r"^\d{1,3}([.,]\d{3})+$")


def product_get(product_id: str) -> Product:
    found = Product.objects.filter(product_id=product_id).first()
    if found is None:
        raise NotFound(_("No such product."))
    return found


def parse_price(value: Any, currency: str) -> Any:
    """A price as a person types it: "1.234.567", "1 234 567 ₫", "12,50" (VND has no decimals,
    so dots and commas between groups of three digits are thousands separators). Anything else
    goes to ``parse_money`` unchanged, which says what is wrong."""
    if not isinstance(value, str):
        return value
    text = re.sub(r"[\s\u00a0₫]|đ$|VND$", "", value.strip(), flags=re.IGNORECASE)
    if _THOUSANDS.match(text) and (currency == "VND" or text.count(".") + text.count(",") > 1):
        return re.sub(r"[.,]", "", text)
    if "," in text and "." not in text:
        return text.replace(",", ".")
    return text


def _sku(raw: Any, errors: dict[str, list[str]]) -> str:
    sku = raw.strip() if isinstance(raw, str) else raw
    if not isinstance(sku, str) or not sku:
        errors["product_id"] = [_("This field is required.")]
    elif not _SKU.match(sku):
        errors["product_id"] = [_("at most 200 characters, without spaces")]
    elif Product.objects.filter(product_id__iexact=sku).exists():
        errors["product_id"] = [_("A product with this SKU exists.")]
    else:
        return sku
    return ""


def _money(data: dict[str, Any], product: Product, out: dict[str, Any], errors: dict[str, list[str]]) -> None:
    currency = product.currency or settings.SHOP_CURRENCY
    if "currency" in data:
        raw = data["currency"]
        if not isinstance(raw, str) or not CURRENCY_CODE.match(raw.strip()):
            errors["currency"] = [_("must be a three-letter currency code such as VND or USD")]
        else:
            currency = out["currency"] = raw.strip().upper()
    if "price" in data:
        price = out["price"] = parse_money(parse_price(data["price"], currency), "price", errors)
        if price is not None and currency == "VND" and price != price.to_integral_value():
            errors["price"] = [_("VND has no decimals")]


def _values(data: dict[str, Any], product: Product) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    if not product.pk:
        out["product_id"] = _sku(data.get("product_id"), errors)
    for key, most in (("name", 300), ("category", 200), ("unit", 30)):
        if key in data:
            out[key] = text_field(data[key], key, errors, most)
    if ("name" in data or not product.pk) and not out.get("name") and "name" not in errors:
        errors["name"] = [_("This field is required.")]
    _money(data, product, out, errors)
    if errors:
        raise InvalidInput(errors)
    return out


def _snapshot(product: Product) -> dict[str, Any]:
    return {f: getattr(product, f) for f in FIELDS}


def _audit(actor: Actor, action: str, product: Product, changes: dict[str, Any]) -> None:
    audit_event(
        actor=actor, action=action, object_type="product", object_id=product.pk,
        object_label=str(product)[:200], changes=changes,
    )  # fmt: skip


def product_create(*, actor: Actor, data: dict[str, Any]) -> Product:
    perms.require(actor, "order", perms.CREATE)
    product = Product(currency=settings.SHOP_CURRENCY)
    values = _values(data, product)
    now = timezone.now()
    for key, value in values.items():
        setattr(product, key, value)
    product.created_at = product.updated_at = product.edited_at = now
    try:
        with transaction.atomic():
            product.save()
            changes = {k: [None, v] for k, v in _snapshot(product).items() if v not in ("", None)}
            _audit(actor, AuditEvent.Action.CREATE, product, {"product_id": [None, product.product_id], **changes})
    except IntegrityError:  # an order created it in between
        raise InvalidInput({"product_id": [_("A product with this SKU exists.")]}) from None
    return product


def product_update(*, actor: Actor, product: Product, data: dict[str, Any]) -> Product:
    """Change name, category, unit, price or currency; the SKU stays."""
    perms.require(actor, "order", perms.EDIT)
    if "product_id" in data and data["product_id"] != product.product_id:
        raise InvalidInput({"product_id": [_("The SKU of a product cannot change.")]})
    values = _values({k: v for k, v in data.items() if k != "product_id"}, product)
    before = _snapshot(product)
    changes = {k: [before[k], v] for k, v in values.items() if before[k] != v}
    with transaction.atomic():
        for key, value in values.items():
            setattr(product, key, value)
        product.updated_at = product.edited_at = timezone.now()
        product.save()
        if changes:
            _audit(actor, AuditEvent.Action.UPDATE, product, changes)
    return product


def price_text(product: Product) -> str:
    """The price as the form shows it for editing: whole amounts without decimals."""
    price: Decimal | None = product.price
    if price is None:
        return ""
    return str(price.quantize(Decimal(1))) if price == price.to_integral_value() else str(price)
