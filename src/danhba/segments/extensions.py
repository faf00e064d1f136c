"""What the apps above segments add to it (see ``core/hooks.py``): segments imports none of
them. ``EMAIL_CAMPAIGNS``: the campaigns an ``email`` condition can name (messaging adds them),
for the builder's list and the sentence that reads a condition out."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from danhba.core.hooks import Registry


@dataclass(frozen=True)
class CampaignNames:
    """``choices()``: (id, name) of the campaigns to offer, newest first; ``names(ids)``: the
    names of these campaigns (absent when deleted)."""

    choices: Callable[[], list[tuple[int, str]]]
    names: Callable[[Iterable[int]], dict[int, str]]


EMAIL_CAMPAIGNS: Registry[CampaignNames] = Registry(
    "segments.email_campaigns",
    doc="The email campaigns an `email` condition can name (messaging): choices and names.",
)


def campaign_choices() -> list[tuple[int, str]]:
    return [choice for source in EMAIL_CAMPAIGNS for choice in source.choices()]


def campaign_name(campaign_id: int) -> str | None:
    for source in EMAIL_CAMPAIGNS:
        name = source.names([campaign_id]).get(campaign_id)
        if name is not None:
            return name
    return None
