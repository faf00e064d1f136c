"""Reads of orders, products and purchase metrics shared by the pages, the API and the contact
page. Orders are visible as their contact is (``contacts.selectors.visibility_q``); orders of
anonymous visitors are unassigned, like contacts without an owner."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.contacts.models import Contact
from danhba.contacts.selectors import is_id, param_date, visibility_q
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.keyset import Page, paginate
from danhba.core.normalize import clean_text
from danhba.orders.models import Order, OrderLine, Product, PurchaseStats

MAX_LIMIT = 200


@dataclass
class OrderFilters:
    contact: int | None = None
    status: str = ""
    channel: str = ""
    placed_after: dt.date | None = None
    placed_before: dt.date | None = None

    @classmethod
    def from_params(cls, params: Any) -> OrderFilters:
        errors: dict[str, list[str]] = {}

        def date(name: str) -> dt.date | None:
            return param_date(params, name, errors)

        contact_raw = clean_text(params.get("contact"))
        contact = None
        if contact_raw:
            if is_id(contact_raw):
                contact = int(contact_raw)
            else:
                errors["contact"] = [gettext("a contact id")]
        status = clean_text(params.get("status"))
        if status and status not in Order.Status.values:
            errors["status"] = [gettext("must be one of %(choices)s") % {"choices": ", ".join(Order.Status.values)}]
        channel = clean_text(params.get("channel"))
        if channel and channel not in Order.SalesChannel.values:
            choices = ", ".join(Order.SalesChannel.values)
            errors["channel"] = [gettext("must be one of %(choices)s") % {"choices": choices}]
        filters = cls(
            contact=contact,
            status=status,
            channel=channel,
            placed_after=date("placed_after"),
            placed_before=date("placed_before"),
        )
        if errors:
            raise InvalidInput(errors, gettext("Some filters are not valid."))
        return filters

    def params(self) -> dict[str, str]:
        values = {
            "contact": str(self.contact or ""),
            "status": self.status,
            "channel": self.channel,
            "placed_after": self.placed_after.isoformat() if self.placed_after else "",
            "placed_before": self.placed_before.isoformat() if self.placed_before else "",
        }
        return {k: v for k, v in values.items() if v}


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def orders_visible(user: User) -> QuerySet[Order]:
    """The orders a user may see: role permission "order: view", and the contact's visibility."""
    if not user.can("order", perms.VIEW):
        return Order.objects.none()
    vis = visibility_q(user, prefix="contact__")
    qs = Order.objects.all()
    if vis is not None:
        # Anonymous orders have no contact, so no owner: unassigned, seen by every scope.
        qs = qs.filter(vis | Q(contact__isnull=True))
    return qs


def order_page(user: User, filters: OrderFilters, cursor: str | None = None, limit: int = 50) -> Page[Order]:
    """Newest first, one keyset page on (placed_at, id)."""
    qs = orders_visible(user).select_related("contact")
    if filters.contact:
        qs = qs.filter(contact_id=filters.contact)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.placed_after:
        qs = qs.filter(placed_at__gte=_day_start(filters.placed_after))
    if filters.placed_before:
        qs = qs.filter(placed_at__lt=_day_start(filters.placed_before + dt.timedelta(days=1)))
    return paginate(qs, "placed_at", cursor, max(1, min(limit, MAX_LIMIT)), descending=True)


def order_get(user: User, order_id: str) -> Order:
    """One order the user may see, with its lines and contact, or :class:`NotFound`."""
    order = (
        orders_visible(user)
        .select_related("contact", "source")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("position", "id")))
        .filter(order_id=clean_text(order_id))
        .first()
    )
    if order is None:
        raise NotFound(gettext("No such order."))
    return order


def product_page(
    user: User, q: str = "", category: str = "", cursor: str | None = None, limit: int = 50
) -> Page[Product]:
    if not user.can("order", perms.VIEW):
        return Page([])
    qs = Product.objects.all()
    q = clean_text(q)[:200]
    if q:
        qs = qs.filter(Q(product_id__istartswith=q) | Q(name__icontains=q))
    if category:
        qs = qs.filter(category=clean_text(category))
    return paginate(qs, "product_id", cursor, max(1, min(limit, MAX_LIMIT)))


def product_categories(limit: int = 200) -> list[str]:
    return list(
        Product.objects.exclude(category="").order_by("category").values_list("category", flat=True).distinct()[:limit]
    )


def purchase_stats_for(user: User, contact: Contact) -> PurchaseStats | None:
    if not user.can("order", perms.VIEW):
        return None
    return PurchaseStats.objects.filter(contact=contact).first()


def purchases_panel(user: User, contact: Contact, latest: int = 5) -> dict[str, Any]:
    """Context of ``orders/_purchases_panel.html`` on the contact page (the caller has already
    checked the contact is visible): nothing when the role may not see orders."""
    if not user.can("order", perms.VIEW):
        return {"purchases_visible": False}
    stats = PurchaseStats.objects.filter(contact=contact).first()
    orders = list(Order.objects.filter(contact=contact).order_by("-placed_at", "-id")[:latest])
    top = []
    if stats and stats.categories:
        ranked = sorted(stats.categories.items(), key=lambda kv: (-float(kv[1]["amount"]), -kv[1]["count"], kv[0]))
        top = [{"name": name, **values} for name, values in ranked[:5]]
    return {
        "purchases_visible": True,
        "purchase_stats": stats,
        "purchase_orders": orders,
        "purchase_top_categories": top,
        "shop_currency": settings.SHOP_CURRENCY,
    }


# --- the contact list's purchase filters and export columns (contacts.extensions) ------------

# Purchase metrics a contact export adds for roles that may see orders. Money is in
# settings.SHOP_CURRENCY and counts only orders in it.
PURCHASE_COLUMNS = [
    "order_count", "total_spent", "average_order_value", "first_order_at", "last_order_at",
    "purchase_frequency_days", "favourite_category",
]  # fmt: skip
PURCHASE_PARAMS = (
    "orders_min", "orders_max", "spent_min", "spent_max", "last_order_after", "last_order_before", "favourite_category",
)  # fmt: skip


@dataclass
class PurchaseFilters:
    """Filters on a contact's purchase metrics (``PurchaseStats``); a contact without orders has
    0 orders and 0 spent."""

    orders_min: int | None = None
    orders_max: int | None = None
    spent_min: Decimal | None = None
    spent_max: Decimal | None = None
    last_order_after: dt.date | None = None
    last_order_before: dt.date | None = None
    favourite_category: str = ""

    @property
    def active(self) -> bool:
        return any(
            (
                self.orders_min is not None,
                self.orders_max is not None,
                self.spent_min is not None,
                self.spent_max is not None,
                self.last_order_after,
                self.last_order_before,
                self.favourite_category,
            )
        )


def _count(params: Mapping[str, Any], name: str, errors: dict[str, list[str]]) -> int | None:
    raw = clean_text(params.get(name))
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and int(raw) < 2**31):
        errors[name] = [gettext("a whole number, 0 or more")]
        return None
    return int(raw)


def _amount(params: Mapping[str, Any], name: str, errors: dict[str, list[str]]) -> Decimal | None:
    raw = clean_text(params.get(name)).replace(" ", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or not 0 <= value < Decimal("1e16"):
        errors[name] = [gettext("an amount, 0 or more")]
        return None
    return value


def purchase_filters_parse(params: Mapping[str, Any], errors: dict[str, list[str]]) -> PurchaseFilters | None:
    filters = PurchaseFilters(
        orders_min=_count(params, "orders_min", errors),
        orders_max=_count(params, "orders_max", errors),
        spent_min=_amount(params, "spent_min", errors),
        spent_max=_amount(params, "spent_max", errors),
        last_order_after=param_date(params, "last_order_after", errors),
        last_order_before=param_date(params, "last_order_before", errors),
        favourite_category=clean_text(params.get("favourite_category"))[:200],
    )
    return filters if filters.active else None


def purchase_filters_q(filters: PurchaseFilters, user: User, p: str) -> Q:
    """Conditions on the contact's purchase metrics (one row per contact, indexed columns). A
    contact with no metrics row has bought nothing: it passes "at most" filters only."""
    if not user.can("order", perms.VIEW):
        raise InvalidInput(
            {"orders_min": [gettext("your role may not see orders")]}, gettext("Some filters are not valid.")
        )
    s = f"{p}purchase_stats__"
    none = Q(**{f"{s}isnull": True})
    q = Q()
    if filters.orders_min:
        q &= Q(**{f"{s}order_count__gte": filters.orders_min})
    if filters.orders_max is not None:
        q &= Q(**{f"{s}order_count__lte": filters.orders_max}) | none
    if filters.spent_min:
        q &= Q(**{f"{s}total_spent__gte": filters.spent_min})
    if filters.spent_max is not None:
        q &= Q(**{f"{s}total_spent__lte": filters.spent_max}) | none
    if filters.last_order_after:
        start = timezone.make_aware(dt.datetime.combine(filters.last_order_after, dt.time.min))
        q &= Q(**{f"{s}last_order_at__gte": start})
    if filters.last_order_before:
        end = timezone.make_aware(dt.datetime.combine(filters.last_order_before + dt.timedelta(days=1), dt.time.min))
        q &= Q(**{f"{s}last_order_at__lt": end})
    if filters.favourite_category:
        q &= Q(**{f"{s}favourite_category": filters.favourite_category})
    return q


def purchase_filter_fields(user: User | None) -> dict[str, forms.Field]:
    """The filter form's purchase-metric fields, for roles that may see orders."""
    if user is None or not user.can("order", "view"):
        return {}
    date_input = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    spent_min = forms.DecimalField(label=gettext_lazy("Total spent, at least"), required=False, min_value=0)
    # Only money in the shop currency counts (stats.py).
    spent_min.help_text = gettext("in %(currency)s") % {"currency": settings.SHOP_CURRENCY}
    category = forms.ChoiceField(label=gettext_lazy("Favourite category"), required=False)
    category.choices = [("", "—"), *((c, c) for c in product_categories())]
    return {
        "orders_min": forms.IntegerField(label=gettext_lazy("Orders, at least"), required=False, min_value=0),
        "orders_max": forms.IntegerField(label=gettext_lazy("Orders, at most"), required=False, min_value=0),
        "spent_min": spent_min,
        "spent_max": forms.DecimalField(label=gettext_lazy("Total spent, at most"), required=False, min_value=0),
        "last_order_after": forms.DateField(label=gettext_lazy("Last order from"), required=False, widget=date_input),
        "last_order_before": forms.DateField(label=gettext_lazy("Last order until"), required=False, widget=date_input),
        "favourite_category": category,
    }


def purchase_columns(user: User) -> list[str]:
    return list(PURCHASE_COLUMNS) if user.can("order", perms.VIEW) else []


def purchase_values(contact_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = PurchaseStats.objects.filter(contact_id__in=contact_ids).values("contact_id", *PURCHASE_COLUMNS)
    return {row["contact_id"]: row for row in rows}


# --- orders on the contact timeline (contacts.extensions.TIMELINE_SOURCES) --------------------

KIND_ORDERS = "orders"
# Among timeline rows of the same instant, orders come after entries (0) and events (1).
ORDER_RANK = 2
# Items of an order, as a subquery: a join and GROUP BY would group by every order column.
_ITEM_COUNT = OrderLine.objects.filter(order=OuterRef("pk")).values("order").annotate(n=Sum("quantity")).values("n")[:1]


@dataclass
class OrderItem:
    order: Order
    item_count: int
    url: str
    source: str = "order"
    template: str = "orders/_timeline_order.html"

    @property
    def at(self) -> dt.datetime:
        return self.order.placed_at


def order_url(order: Order) -> str:
    """The order's page, when the orders pages are installed."""
    try:
        return reverse("orders:detail", kwargs={"order_id": order.order_id})
    except NoReverseMatch:
        return ""


def timeline_orders(
    contact: Contact, user: User, kind: str, before: Callable[[str], Q], limit: int
) -> list[tuple[tuple[dt.datetime, int, int], OrderItem]]:
    """The contact's orders for its timeline, newest first."""
    orders = (
        Order.objects.filter(contact=contact)
        .filter(before("placed_at"))
        .annotate(item_count=Subquery(_ITEM_COUNT))
        .order_by("-placed_at", "-id")[:limit]
    )
    return [((o.placed_at, ORDER_RANK, o.pk), OrderItem(o, o.item_count or 0, order_url(o))) for o in orders]
