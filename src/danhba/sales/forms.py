"""Forms of the sales pages; the services check the values again (as for the API)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.sales.models import LostReason, Pipeline, Task


class DealForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    pipeline_id = forms.TypedChoiceField(label=_("Pipeline"), coerce=int)
    value = forms.DecimalField(label=_("Value (₫)"), min_value=0, max_digits=17, decimal_places=2, initial=0)
    expected_close = forms.DateField(label=_("Expected close"), required=False, input_formats=["%d/%m/%Y", "%Y-%m-%d"],
                                     widget=forms.DateInput(attrs={"placeholder": "dd/mm/yyyy"}))  # fmt: skip
    source = forms.CharField(label=_("Source"), max_length=60, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["pipeline_id"]).choices = [
            (p.pk, p.name) for p in Pipeline.objects.filter(is_active=True)
        ]

    def data_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("expected_close") is None:
            data.pop("expected_close", None)
        return data


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
    source = forms.CharField(label=_("Source"), required=False, max_length=60)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pipelines = [(p.pk, p.name) for p in Pipeline.objects.all()]
        cast(forms.ChoiceField, self.fields["pipeline_id"]).choices = [("", _("Any")), *pipelines]


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
