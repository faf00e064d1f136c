"""What the orders app tells the apps above or beside it (webhooks), which it does not import:
they connect in their ``AppConfig.ready()`` (see ``core/hooks.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from danhba.core.hooks import Hook

if TYPE_CHECKING:
    from danhba.orders.models import Order, OrderLine

ORDER_CREATED: Hook[[Order, Sequence[OrderLine]], object] = Hook(
    "orders.order_created",
    doc="A new order and its lines were written (inside the writing transaction).",
)
