"""``/api/sales/price-lists``: price lists per currency and customer group with validity dates,
per-product prices or a % off the list price (role object "pipeline")."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Path, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.api import ERRORS
from danhba.core.keyset import MAX_PK
from danhba.sales.models import PriceList
from danhba.sales.schemas import PriceListIn, PriceListList, PriceListOut, PriceListPatch
from danhba.sales.services import prices as P

router = Router(tags=["sales: price lists"])
FIELDS = ("id", "name", "currency", "segment_id", "valid_from", "valid_until", "priority", "discount_percent",
          "is_active")  # fmt: skip


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


def price_list_out(price_list: PriceList) -> dict[str, Any]:
    items = [
        {
            "product_id": i.product_id,
            "product": str(i.product),
            "price": i.price,
            "discount_percent": i.discount_percent,
        }
        for i in price_list.items.select_related("product")
    ]
    return {**{f: getattr(price_list, f) for f in FIELDS}, "items": items}


def _get(request: HttpRequest, pk: int) -> PriceList:
    require(api_user(request), "pipeline", perms.VIEW)
    return P.price_list_get(pk)


def _data(payload: Any, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = payload.model_dump(**kw)
    if "items" in data:
        data["items"] = [{k: (str(v) if v is not None else None) if k != "product_id" else v for k, v in i.items()}
                         for i in data["items"]]  # fmt: skip
    return data


@router.get("", response={200: PriceListList, **ERRORS}, summary="Price lists by priority")
def price_list_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "pipeline", perms.VIEW)
    return {"items": [price_list_out(p) for p in PriceList.objects.all()]}


@router.post("", response={201: PriceListOut, **ERRORS}, summary="Add a price list")
def price_list_create(request: HttpRequest, payload: PriceListIn) -> Status[dict[str, Any]]:
    return Status(201, price_list_out(P.price_list_create(actor=api_actor(request), data=_data(payload))))


@router.get("/{int:list_id}", response={200: PriceListOut, **ERRORS}, summary="Get a price list")
def price_list_get(request: HttpRequest, list_id: int = _id()) -> dict[str, Any]:
    return price_list_out(_get(request, list_id))


@router.patch("/{int:list_id}", response={200: PriceListOut, **ERRORS}, summary="Change a price list")
def price_list_update(request: HttpRequest, payload: PriceListPatch, list_id: int = _id()) -> dict[str, Any]:
    price_list = _get(request, list_id)
    data = _data(payload, exclude_unset=True)
    return price_list_out(P.price_list_update(actor=api_actor(request), price_list=price_list, data=data))


@router.delete("/{int:list_id}", response={204: None, **ERRORS}, summary="Delete a price list")
def price_list_delete(request: HttpRequest, list_id: int = _id()) -> Status[None]:
    P.price_list_delete(actor=api_actor(request), price_list=_get(request, list_id))
    return Status(204, None)
