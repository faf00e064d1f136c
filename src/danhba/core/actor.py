"""Who is doing something, and through which door — passed to every service that writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from danhba.accounts.models import User


@dataclass(frozen=True)
class Actor:
    user: User | None
    via: str  # "ui", "api", "cli", "job"
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: Any, via: str = "ui") -> Actor:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        ip = forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR")
        user = request.user if getattr(request, "user", None) and request.user.is_authenticated else None
        return cls(user=user, via=via, ip=ip or None, user_agent=request.META.get("HTTP_USER_AGENT", "")[:255])

    @classmethod
    def system(cls, via: str = "cli", user: User | None = None) -> Actor:
        return cls(user=user, via=via)

    @property
    def label(self) -> str:
        return self.user.email if self.user else f"system ({self.via})"
