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


# --- duplicates -----------------------------------------------------------------------


class ThresholdsForm(forms.Form):
    review_percent = forms.IntegerField(
        label=_("List pairs for review from"), min_value=50, max_value=99, help_text=_("match probability, in %")
    )
    auto_merge_percent = forms.IntegerField(
        label=_("Merge without review from"),
        min_value=50,
        max_value=100,
        required=False,
        help_text=_("match probability, in %; empty: never merge without review"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        review, auto = data.get("review_percent"), data.get("auto_merge_percent")
        if review is not None and auto is not None and auto < review:
            self.add_error("auto_merge_percent", _("must be at least the review threshold"))
        return data


class FiltersForm(forms.Form):
    STATUS = [("open", _("To review")), ("not_duplicate", _("Not a duplicate")), ("merged", _("Merged"))]
    MIN = [("", _("Any")), ("0.5", "50%"), ("0.8", "80%"), ("0.9", "90%"), ("0.95", "95%"), ("0.99", "99%")]
    FOUND_BY = [
        ("", _("Any")),
        ("model", _("Batch run")),
        ("realtime", _("New contact check")),
        ("identity", _("Identity resolution")),
    ]

    status = forms.ChoiceField(label=_("Status"), choices=STATUS, required=False)
    min_probability = forms.ChoiceField(label=_("Probability at least"), choices=MIN, required=False)
    found_by = forms.ChoiceField(label=_("Found by"), choices=FOUND_BY, required=False)
    cluster = forms.IntegerField(label=_("Group"), min_value=1, max_value=2**63 - 1, required=False)
