"""Who is doing something, and through which door — passed to every service that writes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from danhba.accounts.models import User


@dataclass(frozen=True)
class Actor:
    user: User | None
    via: str  # "ui", "api", "cli", "job"
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: Any, via: str = "ui", user: User | None = None) -> Actor:
        if user is None:
            user = request.user if getattr(request, "user", None) and request.user.is_authenticated else None
        agent = request.META.get("HTTP_USER_AGENT", "").replace("\x00", "")[:255]
        return cls(user=user, via=via, ip=client_ip(request), user_agent=agent)

    @classmethod
    def system(cls, via: str = "cli", user: User | None = None) -> Actor:
        return cls(user=user, via=via)

    @property
    def label(self) -> str:
        return self.user.email if self.user else f"system ({self.via})"


def client_ip(request: Any) -> str | None:
    """The caller's IP address for the audit log and login throttling.

    ``X-Forwarded-For`` is believed only when ``USE_X_FORWARDED_FOR`` says a proxy in front of
    danhba sets it (otherwise any client could write any address into the audit trail); the
    right-most hop is the one the proxy added. Anything that is not an IP address is dropped.
    """
    candidates = []
    if settings.USE_X_FORWARDED_FOR:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if hops:
            candidates.append(hops[-1])
    candidates.append(request.META.get("REMOTE_ADDR", ""))
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None
