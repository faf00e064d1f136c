"""The segment condition kind ``quality`` (added to ``segments.extensions.CONDITION_KINDS`` in
``apps.py``), which workflow branches use too (they speak segments' condition language)::

    {"kind": "quality", "is": "needs_verification"}
    {"kind": "quality", "is": "signal", "signal": "bounced" | "no_mx" | "bad_phone" | …}
    {"kind": "quality", "is": "freshness", "bucket": "fresh" | "ageing" | "stale" | "dead"}

Read from ``Freshness`` and ``DecaySignal`` (kept current by the worker, announced with the
change reason ``quality``): one index range each. A contact not computed yet matches none."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from danhba.quality import decay
from danhba.quality.models import DecaySignal, Freshness
from danhba.segments.extensions import ConditionKind

CHECKS = {
    "needs_verification": gettext_lazy("needs verification"),
    "signal": gettext_lazy("has the decay signal"),
    "freshness": gettext_lazy("data freshness is"),
}
SIGNALS = dict(DecaySignal.Kind.choices)


def check(node: dict[str, Any], path: str, add_error: Callable[[str, str], None]) -> dict[str, Any]:
    what = node.get("is")
    out: dict[str, Any] = {"is": what}
    if what == "signal":
        if node.get("signal") not in SIGNALS:
            add_error(f"{path}.signal", _("must be one of: %s") % ", ".join(SIGNALS))
        out["signal"] = node.get("signal")
    elif what == "freshness":
        if node.get("bucket") not in decay.BUCKET_KEYS:
            add_error(f"{path}.bucket", _("must be one of: %s") % ", ".join(decay.BUCKET_KEYS))
        out["bucket"] = node.get("bucket")
    elif what != "needs_verification":
        add_error(f"{path}.is", _("must be one of: %s") % ", ".join(CHECKS))
    return out


def rows_for(node: dict[str, Any]) -> Any:
    """The rows (with a ``contact_id``) of the contacts the condition holds for."""
    what = node.get("is")
    if what == "signal":
        return DecaySignal.objects.filter(kind=node["signal"])
    if what == "freshness":
        oldest, newest = decay.bucket(node["bucket"]).bounds(timezone.now())
        rows = Freshness.objects.filter(seen_at__lt=newest)
        return rows.filter(seen_at__gte=oldest) if oldest is not None else rows
    return Freshness.objects.filter(needs_verification=True)


def compile_q(node: dict[str, Any], among: Sequence[int] | None) -> Q:
    rows = rows_for(node)
    if among is not None:
        rows = rows.filter(contact_id__in=list(among))
    return Q(pk__in=rows.values("contact_id"))


def describe(node: dict[str, Any]) -> str:
    what = node.get("is")
    if what == "signal":
        signal = str(node.get("signal"))
        return _("data quality: %(signal)s") % {"signal": SIGNALS.get(signal, signal)}
    if what == "freshness":
        b = next((b for b in decay.BUCKETS if b.key == node.get("bucket")), None)
        return _("data freshness: %(bucket)s") % {"bucket": b.label if b else node.get("bucket")}
    return _("data quality: needs verification")


def _one(attrs: dict[str, list[str]], key: str) -> str:
    return (attrs.get(key) or [""])[0].strip()


def parse(attrs: dict[str, list[str]]) -> dict[str, Any]:
    what = _one(attrs, "is") or "needs_verification"
    out: dict[str, Any] = {"is": what}
    if what == "signal":
        out["signal"] = _one(attrs, "signal") or DecaySignal.Kind.BOUNCED
    elif what == "freshness":
        out["bucket"] = _one(attrs, "bucket") or "stale"
    return out


def view(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "checks": [(k, str(v)) for k, v in CHECKS.items()],
        "signals": [(k, str(v)) for k, v in SIGNALS.items()],
        "buckets": [(b.key, str(b.label)) for b in decay.BUCKETS],
    }


QUALITY_CONDITION = ConditionKind(
    label=gettext_lazy("Data quality"),
    permission="contact",
    check=check,
    compile=compile_q,
    describe=describe,
    reasons=lambda node: ["quality"],
    new=lambda: {"is": "needs_verification"},
    parse=parse,
    template="quality/_quality_condition.html",
    view=view,
)
