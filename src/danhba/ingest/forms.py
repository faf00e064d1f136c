"""Forms of the import wizard: the upload, and one form for the mapping, options and provenance
of a draft (its column selects are made from the file's headers)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import LifecycleStage, NameOrder, Source
from danhba.core.normalize import split_tags
from danhba.ingest.fields import PRESETS, target_choices
from danhba.ingest.models import DEFAULT_MATCH_KEYS, Import, LegalBasis, MatchKey, Mode, SavedMapping, UpdatePolicy
from danhba.privacy.models import ConsentPurpose

ACCEPT = (".csv", ".tsv", ".txt", ".xlsx", ".json", ".jsonl", ".ndjson", ".vcf", ".vcard")
ENCODINGS: list[tuple[str, Any]] = [
    ("utf-8", _("UTF-8")),
    ("utf-16", _("UTF-16 (Excel “Unicode text”)")),
    ("cp1258", _("Windows-1258 (Vietnamese Windows, Excel CSV)")),
    ("tcvn3", _("TCVN3 / ABC (old Vietnamese fonts .VnTime)")),
    ("vni", _("VNI Windows (old VNI-Times fonts)")),
    ("cp1252", _("Windows-1252 (Western European)")),
]
MATCH_SLOTS = 3
# Options the form owns; the others (a preset's separators, external id system…) stay as set.
FORM_OPTIONS = ("name_order", "given_words", "day_first", "add_tags", "owner", "lifecycle_stage", "add_to_list")


def headers_signature(headers: list[str]) -> str:
    """Changes when the file is read differently, so a mapping posted for other headers is caught."""
    return hashlib.sha256(json.dumps(headers, ensure_ascii=False).encode()).hexdigest()[:16]


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV, TSV or text, Excel (.xlsx), JSON, JSON Lines or vCard (.vcf), in any encoding."),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(ACCEPT)}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if Path(upload.name or "").suffix.lower() not in ACCEPT:
            raise forms.ValidationError(_("Choose a CSV, TSV, TXT, XLSX, JSON, JSONL or vCard file."))
        return upload


class WizardForm(forms.Form):
    """Everything about a draft import. Column selects are ``col_0``, ``col_1``… in header order."""

    headers_sig = forms.CharField(widget=forms.HiddenInput, required=False)
    encoding = forms.ChoiceField(label=_("Encoding"), required=False)
    sheet = forms.ChoiceField(label=_("Sheet"), required=False)
    preset = forms.ChoiceField(label=_("Exported from"), required=False)
    saved_mapping = forms.ChoiceField(label=_("Saved mapping"), required=False)
    # --- how to load ----------------------------------------------------------------------------
    mode = forms.ChoiceField(label=_("Mode"), choices=Mode.choices)
    update_policy = forms.ChoiceField(label=_("When a contact already exists"), choices=UpdatePolicy.choices)
    name_order = forms.ChoiceField(label=_("Name order"), choices=NameOrder.choices)
    given_words = forms.IntegerField(
        label=_("Words in the given name"),
        min_value=1,
        max_value=3,
        help_text=_("2 keeps compound given names together: Nguyễn Thị Minh Khai → given name Minh Khai."),
    )
    day_first = forms.TypedChoiceField(
        label=_("Dates are written"),
        choices=[("1", _("day first (31/12/1990)")), ("0", _("month first (12/31/1990)"))],
        coerce=lambda v: v == "1",
    )
    add_tags = forms.CharField(
        label=_("Tags to add"), required=False, max_length=500, help_text=_("Comma separated; added to every contact.")
    )
    owner = forms.ChoiceField(label=_("Owner of new contacts"), required=False)
    add_to_list = forms.ChoiceField(
        label=_("Add to a static list"), required=False, help_text=_("Every contact the import creates or updates.")
    )
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage of new contacts"), required=False)
    # --- provenance -----------------------------------------------------------------------------
    source = forms.ChoiceField(label=_("Data source"), choices=Source.choices)
    source_detail = forms.CharField(
        label=_("Where the data came from"),
        required=False,
        max_length=255,
        help_text=_("E.g. 'Registration forms, Hà Nội fair, October 2026'."),
    )
    legal_basis = forms.ChoiceField(label=_("Legal basis"), choices=LegalBasis.choices)
    consent_purposes = forms.MultipleChoiceField(
        label=_("Consent given for"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Purposes every person in the file consented to; recorded in the consent ledger."),
    )
    consent_proof = forms.CharField(
        label=_("Proof of consent"),
        required=False,
        max_length=255,
        help_text=_("Where the signed forms or records are kept."),
    )
    dry_run = forms.BooleanField(label=_("Dry run: check every row and report, but change no contact"), required=False)
    mapping_name = forms.CharField(label=_("Save this mapping as"), required=False, max_length=120)

    def __init__(self, data: Mapping[str, Any] | None = None, *, run: Import, sheets: list[str]) -> None:
        super().__init__(data, initial=self.initial_for(run))
        self.run = run
        self.mapping_errors: list[str] = []
        self.headers = list(run.headers)
        detected = run.detected_encoding or "?"
        encodings = [("", _("As detected (%(name)s)") % {"name": detected}), *ENCODINGS]
        if run.encoding and run.encoding not in dict(ENCODINGS):
            encodings.append((run.encoding, run.encoding))
        self._set_choices("encoding", encodings)
        self._set_choices("sheet", [(s, s) for s in sheets] or [("", "—")])
        presets = [(p.key, p.label) for p in PRESETS.values()]
        self._set_choices("preset", [("", _("Another tool or a spreadsheet")), *presets])
        mappings = [(str(pk), name) for pk, name in SavedMapping.objects.values_list("pk", "name")]
        self._set_choices("saved_mapping", [("", "—"), *mappings])
        from danhba.accounts.models import User

        users = User.objects.filter(is_active=True).order_by("email").values_list("email", "full_name")
        owners = [(email, f"{name} <{email}>" if name else email) for email, name in users]
        self._set_choices("owner", [("", _("Nobody (you, if your role sees only your own contacts)")), *owners])
        stages = [(stage.key, stage.label) for stage in LifecycleStage.objects.filter(is_active=True)]
        self._set_choices("lifecycle_stage", [("", _("The first stage")), *stages])
        from danhba.segments.models import Segment

        lists = [(str(pk), name) for pk, name in Segment.objects.filter(kind="static").values_list("pk", "name")]
        if run.created_by is not None and not run.created_by.can("segment", "edit"):
            lists = []
        self._set_choices("add_to_list", [("", "—"), *lists])
        self._set_choices("consent_purposes", [(p.key, p.label) for p in ConsentPurpose.objects.filter(is_active=True)])
        key_choices = [("", "—"), *MatchKey.choices]
        for slot in range(1, MATCH_SLOTS + 1):
            self.fields[f"match_key_{slot}"] = forms.ChoiceField(
                label=_("Identity key %(n)s") % {"n": slot}, choices=key_choices, required=False
            )
        targets = target_choices()
        for index, header in enumerate(self.headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(label=header, choices=targets, required=False)

    def _set_choices(self, name: str, choices: list[tuple[str, Any]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    @staticmethod
    def initial_for(run: Import) -> dict[str, Any]:
        options = run.options or {}
        tags = options.get("add_tags") or []
        initial: dict[str, Any] = {
            "headers_sig": headers_signature(list(run.headers)),
            "encoding": run.encoding,
            "sheet": run.sheet,
            "preset": options.get("preset", ""),
            "mode": run.mode,
            "update_policy": run.update_policy,
            "name_order": options.get("name_order") or NameOrder.VI,
            "given_words": options.get("given_words") or 1,
            "day_first": "1" if options.get("day_first", True) else "0",
            "add_tags": ", ".join(tags) if isinstance(tags, list) else str(tags),
            "owner": options.get("owner", ""),
            "lifecycle_stage": options.get("lifecycle_stage", ""),
            "add_to_list": str(options.get("add_to_list") or ""),
            "source": run.source,
            "source_detail": run.source_detail,
            "legal_basis": run.legal_basis,
            "consent_purposes": list(run.consent_purposes.values_list("key", flat=True)) if run.pk else [],
            "consent_proof": run.consent_proof,
            "dry_run": run.dry_run,
        }
        keys = list(run.match_keys or DEFAULT_MATCH_KEYS)
        for slot in range(1, MATCH_SLOTS + 1):
            initial[f"match_key_{slot}"] = keys[slot - 1] if slot <= len(keys) else ""
        for index, header in enumerate(run.headers):
            initial[f"col_{index}"] = (run.columns or {}).get(header, "")
        return initial

    # --- reading what was chosen ----------------------------------------------------------------

    def _value(self, name: str) -> Any:
        """The cleaned value, or the initial one for a field that did not validate."""
        data = getattr(self, "cleaned_data", {})
        if name in data:
            return data[name]
        value = self.initial.get(name)
        if name == "day_first":
            return value == "1"
        return value

    @property
    def column_fields(self) -> list[tuple[str, forms.BoundField]]:
        return [(header, self[f"col_{i}"]) for i, header in enumerate(self.headers)]

    def headers_changed(self) -> bool:
        return bool(self.data) and self.data.get("headers_sig") != headers_signature(self.headers)

    def columns(self) -> dict[str, str]:
        return {header: self._value(f"col_{i}") or "" for i, header in enumerate(self.headers)}

    def options(self) -> dict[str, Any]:
        return {
            "name_order": self._value("name_order") or NameOrder.VI,
            "given_words": int(self._value("given_words") or 1),
            "day_first": bool(self._value("day_first")),
            "add_tags": split_tags(self._value("add_tags") or ""),
            "owner": self._value("owner") or "",
            "lifecycle_stage": self._value("lifecycle_stage") or "",
            "add_to_list": int(self._value("add_to_list")) if str(self._value("add_to_list") or "").isdigit() else None,
        }

    def match_keys(self) -> list[str]:
        return [k for k in (self._value(f"match_key_{s}") for s in range(1, MATCH_SLOTS + 1)) if k]

    def configure_kwargs(self) -> dict[str, Any]:
        """What :func:`~danhba.ingest.services.import_configure` takes from this form (the file
        controls, encoding and sheet, are applied on their own)."""
        data = self.cleaned_data
        return {
            "columns": self.columns(),
            "options": self.options(),
            "mode": data["mode"],
            "update_policy": data["update_policy"],
            "match_keys": self.match_keys(),
            "source": data["source"],
            "source_detail": data["source_detail"],
            "legal_basis": data["legal_basis"],
            "consent_purposes": list(data["consent_purposes"]),
            "consent_proof": data["consent_proof"],
            "dry_run": data["dry_run"],
        }

    # --- errors from services -------------------------------------------------------------------

    # Where a service's error keys show: next to this field, or above the mapping table.
    PLACES = {"match_keys": "match_key_1", "file": "encoding"}

    def apply_errors(self, details: Any) -> None:
        if not hasattr(self, "cleaned_data"):
            self.cleaned_data = {}
        for key, messages in (details if isinstance(details, dict) else {}).items():
            texts = [str(m) for m in messages] if isinstance(messages, (list, tuple)) else [str(messages)]
            name = self.PLACES.get(key, key)
            if key == "columns":
                self.mapping_errors.extend(texts)
            elif key == "name":
                self.add_error("mapping_name", texts)
            elif name in self.fields:
                self.add_error(name, texts)
            else:
                self.add_error(None, [f"{key}: {t}" for t in texts])
