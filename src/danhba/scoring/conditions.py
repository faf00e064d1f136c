"""The segment condition kind ``score`` (added to ``segments.extensions.CONDITION_KINDS`` in
``apps.py``)::

    {"kind": "score", "model": ID, "operator": "gte" | "gt" | "lte" | "lt" | "eq", "value": N}
    {"kind": "score", "model": ID, "operator": "between", "value": [LOW, HIGH]}
    {"kind": "score", "model": ID, "operator": "grade_is" | "grade_at_least", "value": GRADE KEY}

A contact without a score in the model has 0 points and the grade of 0, so "score < 10" holds
for it: every comparison is exact over all contacts, as segments' other conditions are."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from danhba.core import formatting
from danhba.scoring import rules as R
from danhba.scoring.models import ContactScore, ScoreModel
from danhba.segments import conditions as C
from danhba.segments.extensions import ConditionKind

NUMBER_OPS = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<", "eq": "="}
GRADE_OPS = {"grade_is": gettext_lazy("grade is"), "grade_at_least": gettext_lazy("grade is at least")}
OPERATORS = [*NUMBER_OPS, "between", *GRADE_OPS]


def _plain(number: Decimal) -> int | str:
    return int(number) if number == number.to_integral_value() else str(number)


def check(node: dict[str, Any], path: str, add_error: Callable[[str, str], None]) -> dict[str, Any]:
    model_id = R.whole(node.get("model"), 1, 2**62)
    model = ScoreModel.objects.filter(pk=model_id).first() if model_id else None
    if model is None:
        add_error(f"{path}.model", _("no such score model"))
    op = node.get("operator")
    out: dict[str, Any] = {"model": model_id, "operator": op}
    value = node.get("value")
    if op in GRADE_OPS:
        keys = [g["key"] for g in model.grades] if model else []
        if value not in keys and model is not None:
            add_error(f"{path}.value", _("must be one of the model's grades: %s") % ", ".join(keys))
        out["value"] = value
    elif op == "between":
        pair = [C.as_number(v) for v in value] if isinstance(value, list) and len(value) == 2 else [None, None]
        if None in pair or pair[0] > pair[1]:  # type: ignore[operator]
            add_error(f"{path}.value", _("must be a pair of numbers [low, high], low first"))
            out["value"] = value
        else:
            out["value"] = [_plain(v) for v in pair]  # type: ignore[arg-type]
    elif op in NUMBER_OPS:
        number = C.as_number(value)
        if number is None:
            add_error(f"{path}.value", _("must be a number"))
        out["value"] = _plain(number) if number is not None else value
    else:
        add_error(f"{path}.operator", _("must be one of: %s") % ", ".join(OPERATORS))
    return out


def _holds(total: Decimal, op: str, value: Any) -> bool:
    if op == "between":
        return Decimal(str(value[0])) <= total <= Decimal(str(value[1]))
    v = Decimal(str(value))
    return {"gte": total >= v, "gt": total > v, "lte": total <= v, "lt": total < v, "eq": total == v}[op]


def compile_q(node: dict[str, Any], among: Sequence[int] | None) -> Q:
    model = ScoreModel.objects.filter(pk=node["model"]).first()
    grades = model.grades if model else []
    rows = ContactScore.objects.filter(model_id=node["model"])
    if among is not None:
        rows = rows.filter(contact_id__in=list(among))
    op, value = node["operator"], node["value"]
    if op in GRADE_OPS:
        rank = R.grade_rank(grades, value)
        keys = [value] if op == "grade_is" else [g["key"] for i, g in enumerate(grades) if i >= rank]
        cond = Q(grade__in=keys)
        zero = R.grade_for(grades, Decimal(0)) in keys
    else:
        low, high = value if op == "between" else (value, value)
        lookups = {"gte": "gte", "gt": "gt", "lte": "lte", "lt": "lt", "eq": "exact"}
        cond = (
            Q(total__gte=Decimal(str(low)), total__lte=Decimal(str(high)))
            if op == "between"
            else Q(**{f"total__{lookups[op]}": Decimal(str(value))})
        )
        zero = _holds(Decimal(0), op, value)
    # A contact without a row has 0 points and the grade of 0: it matches when they do.
    if zero:
        return ~Q(pk__in=rows.exclude(cond).values("contact_id"))
    return Q(pk__in=rows.filter(cond).values("contact_id"))


def describe(node: dict[str, Any]) -> str:
    model = ScoreModel.objects.filter(pk=R.whole(node.get("model"), 1, 2**62) or 0).first()
    name = model.name if model else f"#{node.get('model')}"
    op, value = str(node.get("operator")), node.get("value")
    if op in GRADE_OPS:
        label = R.grade_label(model.grades, str(value)) if model else str(value)
        return _("score “%(model)s”: %(op)s %(grade)s") % {"model": name, "op": GRADE_OPS[op], "grade": label}
    if op == "between" and isinstance(value, list) and len(value) == 2:
        low, high = (formatting.number(v) for v in value)
        return _("score “%(model)s” is between %(low)s and %(high)s") % {"model": name, "low": low, "high": high}
    sign = NUMBER_OPS.get(op, op)
    return _("score “%(model)s” %(sign)s %(value)s") % {"model": name, "sign": sign, "value": formatting.number(value)}


def _one(attrs: dict[str, list[str]], key: str) -> str:
    return (attrs.get(key) or [""])[0].strip()


def parse(attrs: dict[str, list[str]]) -> dict[str, Any]:
    op = _one(attrs, "operator") or "gte"
    if op in GRADE_OPS:
        value: Any = _one(attrs, "grade")
    elif op == "between":
        value = [_one(attrs, "value"), _one(attrs, "value2")]
    else:
        value = _one(attrs, "value")
    return {"model": _one(attrs, "model"), "operator": op, "value": value}


def new() -> dict[str, Any]:
    first = ScoreModel.objects.filter(is_active=True).values_list("pk", flat=True).first()
    return {"model": first or "", "operator": "gte", "value": ""}


def view(node: dict[str, Any]) -> dict[str, Any]:
    models = list(ScoreModel.objects.all())
    current = next((m for m in models if str(m.pk) == str(node.get("model"))), models[0] if models else None)
    value = node.get("value")
    return {
        "models": [(str(m.pk), m.name) for m in models],
        "operators": [(k, f"{v}") for k, v in NUMBER_OPS.items()]
        + [("between", _("between"))]
        + [(k, str(v)) for k, v in GRADE_OPS.items()],
        "grades": [(g["key"], R.grade_label(current.grades, g["key"])) for g in current.grades] if current else [],
        "value": value[0] if isinstance(value, list) and value else value if not isinstance(value, list) else "",
        "value2": value[1] if isinstance(value, list) and len(value) > 1 else "",
        "is_grade": node.get("operator") in GRADE_OPS,
        "is_between": node.get("operator") == "between",
    }


SCORE_CONDITION = ConditionKind(
    label=gettext_lazy("Lead score"),
    permission="score",
    check=check,
    compile=compile_q,
    describe=describe,
    reasons=lambda node: [f"score:{node.get('model')}"],
    new=new,
    parse=parse,
    template="scoring/_score_condition.html",
    view=view,
)
