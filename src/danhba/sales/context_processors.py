"""``{{ sales_unread }}``: the user's unread notices, for the badge next to "My day"."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from danhba.accounts import permissions as perms
from danhba.sales.models import Notification


def unread(request: HttpRequest) -> dict[str, Any]:
    """A callable, so the one COUNT runs only when a page shows the badge, and only for
    users who see "My day"."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.can("task", perms.VIEW):
        return {}
    return {"sales_unread": lambda: Notification.objects.filter(user=user, read_at__isnull=True).count()}
