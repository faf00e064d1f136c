"""Reads for campaign reports and A/B test decisions: counts per campaign from the send log
(sent, delivered, bounced, unsubscribed, complained: ``Send``'s fields) and from the opens and
clicks (``Open``, ``Click``: a machine's are counted apart from a person's), their rates over the
messages sent, the clicks per link, and the activity over time.

An A/B test's report counts its variants and the winner's send to the rest together, and each
variant apart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from danhba.messaging.models import Campaign, Click, Open, Send

# Hourly bars for a campaign's first days, then daily.
HOURLY_SPAN = dt.timedelta(hours=72)
MAX_DAYS = 90
COUNTS = (
    "sent", "delivered", "opened", "opened_machine", "clicked", "clicked_machine", "unsubscribed",
    "bounced", "bounced_hard", "bounced_soft", "complained", "failed",
)  # fmt: skip


def _distinct_sends(model: type[Open] | type[Click], ids: list[int], *, machine: bool) -> dict[int, int]:
    rows = (
        model.objects.filter(campaign_id__in=ids, machine=machine)
        .values("campaign_id")
        .annotate(n=Count("send_id", distinct=True))
    )
    return {row["campaign_id"]: row["n"] for row in rows}


def counts(campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per campaign: the messages sent, delivered (an ESP said so), opened and clicked by a
    person (a click without the pixel implies an open) or only by a machine, unsubscribed,
    bounced (hard, soft), complained about, failed."""
    ids = list(campaign_ids)
    sends = (
        Send.objects.filter(campaign_id__in=ids)
        .values("campaign_id")
        .annotate(
            sent=Count("id", filter=Q(state=Send.State.SENT)),
            delivered=Count("id", filter=Q(delivered_at__isnull=False)),
            unsubscribed=Count("id", filter=Q(unsubscribed_at__isnull=False)),
            bounced_hard=Count("id", filter=Q(bounce="hard")),
            bounced_soft=Count("id", filter=Q(bounce="soft")),
            complained=Count("id", filter=Q(complained_at__isnull=False)),
            failed=Count("id", filter=Q(state=Send.State.FAILED)),
        )
    )
    by_campaign = {row.pop("campaign_id"): row for row in sends}
    human_opens, machine_opens = (_distinct_sends(Open, ids, machine=m) for m in (False, True))
    human_clicks, machine_clicks = (_distinct_sends(Click, ids, machine=m) for m in (False, True))
    out = {}
    for pk in ids:
        row = {key: 0 for key in COUNTS} | by_campaign.get(pk, {})
        row["bounced"] = row["bounced_hard"] + row["bounced_soft"]
        row["opened"], row["clicked"] = human_opens.get(pk, 0), human_clicks.get(pk, 0)
        # Messages a machine opened or clicked (Apple Mail Privacy Protection, link scanners).
        row["opened_machine"], row["clicked_machine"] = machine_opens.get(pk, 0), machine_clicks.get(pk, 0)
        out[pk] = row
    return out


def rates(row: dict[str, int]) -> dict[str, float]:
    """Each count over the messages sent; clicks also over the messages opened."""
    sent = row["sent"]

    def over(n: int, d: int) -> float:
        return n / d if d else 0.0

    return {
        "delivery_rate": over(row["delivered"], sent),
        "open_rate": over(row["opened"], sent),
        "click_rate": over(row["clicked"], sent),
        "click_to_open_rate": over(row["clicked"], row["opened"]),
        "unsubscribe_rate": over(row["unsubscribed"], sent),
        "bounce_rate": over(row["bounced"], sent),
        "complaint_rate": over(row["complained"], sent),
    }


def variant_rates(campaign_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per campaign (an A/B test's variants): sent, opened, clicked and their rates."""
    out = {}
    for pk, row in counts(campaign_ids).items():
        r = rates(row)
        out[pk] = {
            "sent": row["sent"],
            "opened": row["opened"],
            "clicked": row["clicked"],
            "open_rate": r["open_rate"],
            "click_rate": r["click_rate"],
        }
    return out


def _family(campaign: Campaign) -> list[int]:
    return [campaign.pk, *campaign.variants.order_by("variant_label").values_list("pk", flat=True)]


def link_clicks(campaign_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Each link with its clicks by people and the messages they came from, most clicked first."""
    rows = (
        Click.objects.filter(campaign_id__in=list(campaign_ids), machine=False, link__isnull=False)
        .values("link__url")
        .annotate(clicks=Count("id"), messages=Count("send_id", distinct=True))
        .order_by("-clicks", "link__url")
    )
    return [{"url": r["link__url"], "clicks": r["clicks"], "messages": r["messages"]} for r in rows[:100]]


def activity(
    campaign_ids: Sequence[int], start: dt.datetime | None, now: dt.datetime | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Messages sent, human opens and clicks per hour (the first 72 hours) or per day (up to 90
    days), from the campaign's start, in the active time zone."""
    now = now or timezone.now()
    if start is None:
        return "hour", []
    tz = timezone.get_current_timezone()
    bucket = "hour" if now - start <= HOURLY_SPAN else "day"
    trunc, step = (TruncHour, dt.timedelta(hours=1)) if bucket == "hour" else (TruncDay, dt.timedelta(days=1))
    ids = list(campaign_ids)
    end = min(now, start + dt.timedelta(days=MAX_DAYS))
    series: dict[str, dict[dt.datetime, int]] = {}
    sources: dict[str, Any] = {
        "sent": Send.objects.filter(campaign_id__in=ids, sent_at__gte=start, sent_at__lte=end).annotate(
            b=trunc("sent_at", tzinfo=tz)
        ),
        "opened": Open.objects.filter(campaign_id__in=ids, machine=False, at__gte=start, at__lte=end).annotate(
            b=trunc("at", tzinfo=tz)
        ),
        "clicked": Click.objects.filter(campaign_id__in=ids, machine=False, at__gte=start, at__lte=end).annotate(
            b=trunc("at", tzinfo=tz)
        ),
    }
    for name, rows in sources.items():
        series[name] = {row["b"]: row["n"] for row in rows.values("b").annotate(n=Count("id"))}
    first = start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        first = first.replace(hour=0)
    out, at = [], first
    while at <= end:
        out.append({"at": at, **{name: series[name].get(at, 0) for name in sources}})
        at = (at + step).astimezone(tz)
    return bucket, out


def campaign_report(campaign: Campaign) -> dict[str, Any]:
    """Everything the report page and ``GET /api/email/campaigns/{id}/report`` show."""
    family = _family(campaign)
    per = counts(family)
    total = {key: sum(per[pk][key] for pk in family) for key in COUNTS}
    variants = list(campaign.variants.order_by("variant_label"))
    bucket, series = activity(family, campaign.started_at)
    return {
        "counts": total,
        "rates": rates(total),
        "links": link_clicks(family),
        "bucket": bucket,
        "series": series,
        "variants": [
            {"id": v.pk, "label": v.variant_label, "winner": v.pk == campaign.ab_winner_id,
             "counts": per[v.pk], "rates": rates(per[v.pk])}
            for v in variants
        ],
    }  # fmt: skip
