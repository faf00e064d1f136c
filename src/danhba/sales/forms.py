"""Forms of the sales pages; the services check the values again (as for the API)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.sales.models import AssignmentRule, Deal, LostReason, Pipeline, PriceList, Task


def picked_id(value: str) -> int | None:
    """The id of what a picker's text names: "#12 Nguyễn Văn An · an@x.vn" or "12"; None if empty."""
    text = (value or "").strip().lstrip("#")
    head = text.split(" ", 1)[0]
    if not text:
        return None
    if not head.isdigit() or len(head) > 18:
        raise forms.ValidationError(_("Pick one from the list (it starts with #number)."))
    return int(head)


class PickerInput(forms.TextInput):
    """A text input whose suggestions (a datalist) come from ``sales:picks`` as the user types."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(attrs={"list": f"picks-{kind}", "autocomplete": "off"})

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> Any:
        from django.urls import reverse
        from django.utils.html import format_html

        more = {"hx-get": reverse("sales:picks", args=[self.kind]), "hx-trigger": "input changed delay:300ms",
                "hx-target": f"#picks-{self.kind}", "hx-swap": "innerHTML",
                "placeholder": _("Type a name, email or phone")}  # fmt: skip
        html = super().render(name, value, {**(attrs or {}), **more}, renderer)
        return format_html('{}<datalist id="picks-{}"></datalist>', html, self.kind)


class DealForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    pipeline_id = forms.TypedChoiceField(label=_("Pipeline"), coerce=int)
    contact = forms.CharField(label=_("Contact"), required=False, max_length=300, widget=PickerInput("contact"))
    company = forms.CharField(label=_("Company"), required=False, max_length=300, widget=PickerInput("company"))
    owner_id = forms.TypedChoiceField(label=_("Owner"), coerce=int, required=False, empty_value=None)
    value = forms.DecimalField(label=_("Value"), min_value=0, max_digits=17, decimal_places=2, initial=0)
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="VND")
    rate = forms.DecimalField(label=_("Rate to VND"), min_value=0, max_digits=18, decimal_places=6, required=False,
                              help_text=_("Only for another currency: how many ₫ one unit is."))  # fmt: skip
    expected_close = forms.DateField(label=_("Expected close"), required=False, input_formats=["%d/%m/%Y", "%Y-%m-%d"],
                                     widget=forms.DateInput(attrs={"placeholder": "dd/mm/yyyy"}))  # fmt: skip
    source = forms.CharField(label=_("Source"), max_length=60, required=False)

    def __init__(self, *args: Any, editing: bool = False, lines: bool = False, **kwargs: Any) -> None:
        from danhba.accounts.models import User

        super().__init__(*args, **kwargs)
        if lines:  # the value is the sum of the product lines
            del self.fields["value"]
        if editing:  # the stage (and so the pipeline) changes by a move
            del self.fields["pipeline_id"]
        else:
            cast(forms.ChoiceField, self.fields["pipeline_id"]).choices = [
                (p.pk, p.name) for p in Pipeline.objects.filter(is_active=True)
            ]
        cast(forms.ChoiceField, self.fields["owner_id"]).choices = [
            ("", _("Me") if not editing else "—"), *[(u.pk, str(u)) for u in User.objects.filter(is_active=True)],
        ]  # fmt: skip

    def clean_contact(self) -> int | None:
        return picked_id(self.cleaned_data.get("contact", ""))

    def clean_company(self) -> int | None:
        return picked_id(self.cleaned_data.get("company", ""))

    def data_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["primary_contact_id"] = data.pop("contact", None)
        data["company_id"] = data.pop("company", None)
        data["currency"] = (data.get("currency") or "VND").upper()
        if data.get("rate") is None:
            data.pop("rate", None)
        if data.get("owner_id") is None and "pipeline_id" in self.fields:
            data.pop("owner_id")  # a new deal is the creator's
        if data.get("expected_close") is None and "pipeline_id" in self.fields:
            data.pop("expected_close", None)
        return data

    @staticmethod
    def initial_for(deal: Deal) -> dict[str, Any]:
        contact, company = deal.primary_contact, deal.company
        return {
            "title": deal.title, "owner_id": deal.owner_id, "value": deal.value, "currency": deal.currency,
            "rate": deal.rate if deal.currency != "VND" else None, "expected_close": deal.expected_close,
            "source": deal.source, "contact": pick_label(contact) if contact else "",
            "company": f"#{company.pk} {company.name}" if company else "",
        }  # fmt: skip


def pick_label(contact: Any) -> str:
    """How a picker shows a contact: "#12 Nguyễn Văn An · an@x.vn"."""
    email = getattr(contact, "email", "") or ""
    return f"#{contact.pk} {contact.display_name}" + (f" · {email}" if email else "")


class LostForm(forms.Form):
    lost_reason_id = forms.TypedChoiceField(label=_("Why was it lost?"), coerce=int)
    note = forms.CharField(label=_("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reasons = [(r.pk, r.label) for r in LostReason.objects.filter(is_active=True)]
        cast(forms.ChoiceField, self.fields["lost_reason_id"]).choices = [("", "—"), *reasons]


class DealFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any")), ("open", _("Open")), ("won", _("Won")), ("lost", _("Lost"))],
    )
    pipeline_id = forms.TypedChoiceField(label=_("Pipeline"), required=False, coerce=int, empty_value=None)
    stage_id = forms.TypedChoiceField(label=_("Stage"), required=False, coerce=int, empty_value=None)
    source = forms.CharField(label=_("Source"), required=False, max_length=60)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pipelines = list(Pipeline.objects.prefetch_related("stages"))
        names = [(p.pk, p.name) for p in pipelines]
        cast(forms.ChoiceField, self.fields["pipeline_id"]).choices = [("", _("Any")), *names]
        stages = [(p.name, [(s.pk, s.name) for s in p.stages.all()]) for p in pipelines]
        cast(forms.ChoiceField, self.fields["stage_id"]).choices = [("", _("Any")), *stages]


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    kind = forms.ChoiceField(label=_("Type"), choices=Task.Kind.choices, initial=Task.Kind.FOLLOW_UP)
    priority = forms.ChoiceField(label=_("Priority"), choices=Task.Priority.choices, initial=Task.Priority.NORMAL)
    due_at = forms.DateTimeField(
        label=_("Due"), input_formats=["%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=0, max_value=10080, initial=0)
    remind_before_minutes = forms.TypedChoiceField(
        label=_("Remind me"), coerce=int, empty_value=None, required=False,
        choices=[("", _("No reminder")), (0, _("At the due time")), (15, _("15 minutes before")),
                 (60, _("1 hour before")), (1440, _("1 day before"))],
    )  # fmt: skip
    notes = forms.CharField(label=_("Notes"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    contact = forms.CharField(label=_("Contact"), required=False, max_length=300, widget=PickerInput("contact"))
    deal_id = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean_contact(self) -> int | None:
        return picked_id(self.cleaned_data.get("contact", ""))

    def data_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["contact_id"] = data.pop("contact", None)
        return data


class LostReasonForm(forms.Form):
    name = forms.CharField(label=_("Name (English)"), max_length=120)
    name_vi = forms.CharField(label=_("Name (Vietnamese)"), max_length=120, required=False)


class PipelineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    stages = forms.CharField(
        label=_("Open stages"), widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One per line, in order: name | win probability in %. Won and Lost end stages are added."),
    )  # fmt: skip

    def stage_specs(self) -> list[dict[str, Any]]:
        specs: list[dict[str, Any]] = []
        for line in self.cleaned_data["stages"].splitlines():
            name, _sep, chance = line.partition("|")
            if name.strip():
                spec: dict[str, Any] = {"name": name.strip()}
                if chance.strip():
                    spec["probability"] = int(chance.strip()) if chance.strip().isdigit() else -1
                specs.append(spec)
        won, lost = str(_("Won")), str(_("Lost"))
        return [*specs, {"name": won, "kind": "won"}, {"name": lost, "kind": "lost"}]


# --- lead assignment ---------------------------------------------------------------------------

WHEN_FORMATS = ["%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    team_id = forms.TypedChoiceField(label=_("Team"), coerce=int)
    method = forms.ChoiceField(label=_("Method"), choices=AssignmentRule.Method.choices)
    load = forms.ChoiceField(label=_("Workload counts"), choices=AssignmentRule.Load.choices)
    capacity = forms.IntegerField(
        label=_("Capacity per rep"), min_value=1, max_value=1_000_000, required=False,
        help_text=_("Most open leads (or deals) a rep may hold; empty: no limit."),
    )  # fmt: skip
    member_ids = forms.TypedMultipleChoiceField(
        label=_("Reps"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every active member of the team."),
    )  # fmt: skip
    condition = forms.CharField(
        label=_("Conditions (JSON)"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_('Segment conditions, for example {"op": "all", "conditions": [{"kind": "field", "field": '
                    '"province", "operator": "eq", "value": "ha-noi"}]}; empty: every new lead.'),
    )  # fmt: skip
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from danhba.accounts.models import Team, User

        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["team_id"]).choices = [(t.pk, t.name) for t in Team.objects.all()]
        cast(forms.ChoiceField, self.fields["member_ids"]).choices = [
            (u.pk, f"{u} ({u.team})" if u.team_id else str(u))
            for u in User.objects.filter(is_active=True).select_related("team")
        ]

    def clean_condition(self) -> Any:
        import json

        raw = self.cleaned_data.get("condition") or ""
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("Not valid JSON.")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Write an object: {…}."))
        return value

    @staticmethod
    def initial_for(rule: AssignmentRule) -> dict[str, Any]:
        import json

        return {
            "name": rule.name, "team_id": rule.team_id, "method": rule.method, "load": rule.load,
            "capacity": rule.capacity, "member_ids": [m.pk for m in rule.members.all()], "is_active": rule.is_active,
            "condition": json.dumps(rule.condition, ensure_ascii=False) if rule.condition else "",
        }  # fmt: skip


class AbsenceForm(forms.Form):
    user_id = forms.TypedChoiceField(label=_("Rep"), coerce=int)
    starts_at = forms.DateTimeField(label=_("From"), input_formats=WHEN_FORMATS, required=False,
                                    widget=forms.DateTimeInput(attrs={"placeholder": "dd/mm/yyyy hh:mm"}),
                                    help_text=_("Empty: from now."))  # fmt: skip
    ends_at = forms.DateTimeField(label=_("Until"), input_formats=WHEN_FORMATS, required=False,
                                  widget=forms.DateTimeInput(attrs={"placeholder": "dd/mm/yyyy hh:mm"}),
                                  help_text=_("Empty: until they are back."))  # fmt: skip
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args: Any, users: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["user_id"]).choices = [(u.pk, str(u)) for u in users]


class HandoverForm(forms.Form):
    fallback_user_id = forms.TypedChoiceField(
        label=_("Who takes what no rule takes"), coerce=int, required=False, empty_value=None,
    )  # fmt: skip

    def __init__(self, *args: Any, rep: Any = None, **kwargs: Any) -> None:
        from danhba.accounts.models import User

        super().__init__(*args, **kwargs)
        users = User.objects.filter(is_active=True).exclude(pk=rep.pk if rep is not None else 0)
        cast(forms.ChoiceField, self.fields["fallback_user_id"]).choices = [
            ("", _("Nobody (unassigned)")),
            *[(u.pk, str(u)) for u in users],
        ]


# --- price lists ---------------------------------------------------------------------------------

DAY_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]


class PriceListForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="VND")
    segment_id = forms.TypedChoiceField(label=_("Customer group"), coerce=int, required=False, empty_value=None)
    valid_from = forms.DateField(label=_("Valid from"), required=False, input_formats=DAY_FORMATS,
                                 widget=forms.DateInput(attrs={"placeholder": "dd/mm/yyyy"}))  # fmt: skip
    valid_until = forms.DateField(label=_("Valid until"), required=False, input_formats=DAY_FORMATS,
                                  widget=forms.DateInput(attrs={"placeholder": "dd/mm/yyyy"}))  # fmt: skip
    priority = forms.IntegerField(label=_("Priority"), min_value=0, max_value=1_000_000, initial=100,
                                  help_text=_("Lower first, when several lists apply."))  # fmt: skip
    discount_percent = forms.DecimalField(
        label=_("Discount on list prices (percent)"), min_value=0, max_value=100, decimal_places=2, initial=0,
        help_text=_("For products the list does not price itself."),
    )  # fmt: skip
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    items = forms.CharField(
        label=_("Product prices"), required=False, widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("One per line: product id = price, or product id = 10% (off its list price)."),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from danhba.segments.models import Segment

        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["segment_id"]).choices = [
            ("", _("Everyone")),
            *[(s.pk, s.name) for s in Segment.objects.order_by("name")],
        ]

    def clean_items(self) -> list[dict[str, Any]]:
        from danhba.orders.models import Product

        rows: list[tuple[int, str, str]] = []
        for n, line in enumerate((self.cleaned_data.get("items") or "").splitlines(), start=1):
            if line.strip():
                sku, _sep, value = line.partition("=")
                rows.append((n, sku.strip(), value.strip().replace(" ", "")))
        ids = dict(Product.objects.filter(product_id__in=[r[1] for r in rows]).values_list("product_id", "pk"))
        out, problems = [], []
        for n, sku, value in rows:
            if sku not in ids or not value:
                problems.append(_("line %(n)s: no product “%(sku)s”, or no price") % {"n": n, "sku": sku})
                continue
            key = "discount_percent" if value.endswith("%") else "price"
            out.append({"product_id": ids[sku], key: value.rstrip("%").replace(",", ".")})
        if problems:
            raise forms.ValidationError(problems)
        return out

    @staticmethod
    def initial_for(price_list: PriceList) -> dict[str, Any]:
        lines = []
        for item in price_list.items.select_related("product"):
            value = f"{item.price}" if item.price is not None else f"{item.discount_percent}%"
            lines.append(f"{item.product.product_id} = {value}")
        fields = ("name", "currency", "segment_id", "valid_from", "valid_until", "priority", "discount_percent",
                  "is_active")  # fmt: skip
        return {**{f: getattr(price_list, f) for f in fields}, "items": "\n".join(lines)}


class DealLineForm(forms.Form):
    product_id = forms.TypedChoiceField(label=_("Product"), coerce=int, required=False, empty_value=None)
    name = forms.CharField(label=_("Name"), max_length=300, required=False,
                           help_text=_("Empty: the product's name."))  # fmt: skip
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=1_000_000, initial=1)
    price = forms.DecimalField(label=_("Price"), min_value=0, max_digits=17, decimal_places=2, required=False,
                               help_text=_("Empty: from the price list."))  # fmt: skip
    discount = forms.DecimalField(label=_("Discount"), min_value=0, max_digits=17, decimal_places=2, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from danhba.orders.models import Product

        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["product_id"]).choices = [
            ("", "—"),
            *[(p.pk, str(p)) for p in Product.objects.order_by("name")[:500]],
        ]

    def data_for_service(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
