"""Forms of the quality pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.quality.models import CleaningJob


class CleaningJobForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    actions = forms.MultipleChoiceField(
        label=_("What to clean"), choices=CleaningJob.Action.choices, widget=forms.CheckboxSelectMultiple
    )
    frequency = forms.ChoiceField(label=_("How often"), choices=CleaningJob.Frequency.choices)
    archive_after_months = forms.IntegerField(
        label=_("Archive after this many months without activity"), min_value=6, max_value=240, initial=24
    )
    auto_apply = forms.BooleanField(
        label=_("Apply scheduled runs without review"),
        required=False,
        help_text=_("Off: a scheduled run stops at its preview and waits for someone to apply it."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    @classmethod
    def for_job(cls, job: CleaningJob) -> CleaningJobForm:
        return cls(
            initial={
                "name": job.name, "actions": job.actions, "frequency": job.frequency,
                "archive_after_months": job.archive_after_months, "auto_apply": job.auto_apply,
                "is_active": job.is_active,
            }
        )  # fmt: skip

    def data_for_service(self) -> dict[str, Any]:
        return dict(self.cleaned_data)
