"""Pages of merging: the merge page (two or more contacts side by side, the survivor's value of
each field shown and changeable), the merge history with undo, a merge's page, and the
survivorship rules. Each parses, calls one service, renders; the API does the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.views import can, current_user, is_htmx, permission_required
from danhba.contacts.models import (
    BuyerRole,
    Contact,
    ContactCompany,
    ContactEmail,
    ContactPhone,
    ContactTag,
    CustomField,
    Gender,
    LifecycleStage,
    Source,
)
from danhba.contacts.selectors import hidden_fields
from danhba.core import formatting
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ServiceError
from danhba.core.vn import PROVINCES
from danhba.quality import selectors
from danhba.quality.models import MergeSettings, Rule
from danhba.quality.services import merge as merging
from danhba.quality.services.bulk import bulk_merge_cancel, bulk_merge_get
from danhba.quality.services.rules import merge_settings_update
from danhba.quality.survivorship import CUSTOM, DEFAULT_SOURCE_RANKING, GROUPS, Choice


def _int(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() and 0 < len(text) <= 18 else None


def _ids(request: HttpRequest) -> list[int]:
    data = request.POST if request.method == "POST" else request.GET
    return list(dict.fromkeys(i for i in (_int(v) for v in data.getlist("ids")) if i is not None))


# --- showing values -----------------------------------------------------------------------


def _names(model: Any, ids: set[Any]) -> dict[Any, str]:
    return {o.pk: str(o) for o in model.objects.filter(pk__in=[i for i in ids if i])}


class _Shown:
    """How the merge page says a group's values, with names of stages, roles and owners."""

    def __init__(self, contacts: list[Contact]) -> None:
        self.stages = _names(LifecycleStage, {c.lifecycle_stage_id for c in contacts})
        self.roles = _names(BuyerRole, {c.buyer_role_id for c in contacts})
        self.owners = _names(get_user_model(), {c.owner_id for c in contacts})
        self.provinces = dict(PROVINCES)
        self.sources = dict(Source.choices)
        self.custom = dict(CustomField.objects.filter(entity="contact").values_list("key", "label"))

    def __call__(self, key: str, values: dict[str, Any]) -> str:
        if key.startswith(CUSTOM):
            value = values.get(key)
            return "" if value in (None, "") else ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        special: dict[str, Callable[[], Any]] = {
            "name": lambda: values.get("full_name") or "",
            "address": lambda: (
                ", ".join(
                    str(v)
                    for v in (
                        values.get("street"),
                        values.get("ward"),
                        self.provinces.get(values.get("province") or ""),
                    )
                    if v
                )
                or values.get("address_raw")
                or ""
            ),
            "birthday": lambda: formatting.day(values["birthday"]) if values.get("birthday") else "",
            "lifecycle_stage": lambda: self.stages.get(values.get("lifecycle_stage_id"), ""),
            "buyer_role": lambda: self.roles.get(values.get("buyer_role_id"), ""),
            "owner": lambda: self.owners.get(values.get("owner_id"), ""),
            "source": lambda: str(self.sources.get(values.get("source") or "", values.get("source") or "")),
            "gender": lambda: str(dict(Gender.choices).get(values.get("gender") or "", "")),
        }
        if key in special:
            return str(special[key]())
        return str(next(iter(values.values()), "") or "")

    def label(self, key: str) -> str:
        if key.startswith(CUSTOM):
            return self.custom.get(key[len(CUSTOM) :], key[len(CUSTOM) :])
        return str(GROUPS[key][0])


def _group_values(contact: Contact, key: str) -> dict[str, Any]:
    if key.startswith(CUSTOM):
        return {key: (contact.custom or {}).get(key[len(CUSTOM) :])}
    return {a: getattr(contact, a) for a in GROUPS[key][1]}


def _rows(contacts: list[Contact], choices: list[Choice], hidden: set[str]) -> list[dict[str, Any]]:
    shown = _Shown(contacts)
    rows = []
    for choice in choices:
        if choice.key in hidden:
            continue
        cells = [
            {"contact": c, "text": shown(choice.key, _group_values(c, choice.key)), "chosen": c.pk == choice.contact_id}
            for c in contacts
        ]
        if not any(cell["text"] for cell in cells):
            continue
        differs = len({cell["text"] for cell in cells}) > 1
        rows.append({"key": choice.key, "label": shown.label(choice.key), "cells": cells, "differs": differs})
    return rows


def _lists(contacts: list[Contact]) -> list[dict[str, Any]]:
    """The identities and links every contact keeps (all of them move to the survivor)."""
    ids = [c.pk for c in contacts]
    lists: list[tuple[str, Any]] = [
        (_("Emails"), ContactEmail.objects.filter(contact_id__in=ids).values_list("contact_id", "email")),
        (_("Phones"), ContactPhone.objects.filter(contact_id__in=ids).values_list("contact_id", "e164")),
        (_("Tags"), ContactTag.objects.filter(contact_id__in=ids).values_list("contact_id", "tag__name")),
        (_("Companies"), ContactCompany.objects.filter(contact_id__in=ids).values_list("contact_id", "company__name")),
    ]
    rows = []
    for label, pairs in lists:
        by_contact: dict[int, list[str]] = {}
        for cid, value in pairs:
            by_contact.setdefault(cid, []).append(str(value))
        rows.append({"label": label, "cells": [", ".join(by_contact.get(c.pk, [])) for c in contacts]})
    return rows


# --- the merge page -----------------------------------------------------------------------


def _picks(request: HttpRequest, contact_ids: list[int]) -> dict[str, Any]:
    data = request.POST if request.method == "POST" else request.GET
    picks: dict[str, Any] = {}
    for name, value in data.items():
        if name.startswith("pick."):
            chosen = _int(value)
            if chosen in contact_ids:
                picks[name[len("pick.") :]] = chosen
    return picks


def _merge_context(request: HttpRequest, ids: list[int], survivor_id: int, picks: dict[str, Any]) -> dict[str, Any]:
    user = current_user(request)
    actor = Actor.from_request(request)
    others = [i for i in ids if i != survivor_id]
    choices = merging.merge_preview(actor=actor, survivor=survivor_id, others=others, rules=picks)
    by_id = {c.pk: c for c in Contact.objects.filter(pk__in=ids).select_related("lifecycle_stage")}
    contacts = [by_id[survivor_id], *(by_id[o] for o in others)]
    return {
        "nav": "contacts",
        "contacts": contacts,
        "survivor_id": survivor_id,
        "ids": ids,
        "rows": _rows(contacts, choices, hidden_fields(user)),
        "lists": _lists(contacts),
        "can_merge": user.can("merge", perms.CREATE) and user.can("contact", perms.EDIT),
    }


@permission_required(can("merge", perms.VIEW))
def merge_page(request: HttpRequest) -> HttpResponse:
    """GET ?ids=1&ids=2[&survivor=1] (or a POST of the contact list's ticked ids): the contacts
    side by side; a POST with ``confirm`` merges them."""
    ids = _ids(request)
    data = request.POST if request.method == "POST" else request.GET
    survivor_id = _int(data.get("survivor"))
    if survivor_id not in ids:
        survivor_id = ids[0] if ids else None
    if len(ids) < 2 or survivor_id is None:
        messages.error(request, _("Tick two or more contacts to merge."))
        return redirect("contacts:list")
    picks = _picks(request, ids)
    status = 200
    if request.method == "POST" and request.POST.get("confirm"):
        try:
            merge = merging.merge_contacts(
                Actor.from_request(request), survivor_id, [i for i in ids if i != survivor_id], picks
            )
        except (PermissionDenied, NotFound):
            raise
        except ServiceError as exc:
            messages.error(request, exc.message)
            status = 422 if isinstance(exc, InvalidInput) else 409
        else:
            messages.success(request, _("Contacts merged. You can undo this merge for 90 days."))
            return redirect(reverse("quality:merge", args=[merge.pk]))
    try:
        context = _merge_context(request, ids, survivor_id, picks)
    except InvalidInput as exc:
        messages.error(request, " ".join([exc.message, *_texts(exc)]))
        return redirect("contacts:list")
    return render(request, "quality/merge.html", context, status=status)


def _texts(exc: ServiceError) -> list[str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    return [str(t) for texts in details.values() if isinstance(texts, list) for t in texts]


# --- history ------------------------------------------------------------------------------


@permission_required(can("merge", perms.VIEW))
def merge_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    contact_id = _int(request.GET.get("contact"))
    before = _int(request.GET.get("before"))
    rows, next_before = selectors.merges_page(user, contact_id=contact_id, before=before)
    context = {
        "nav": "merges",
        "merges": [selectors.merge_out(m) for m in rows],
        "next_before": next_before,
        "contact_id": contact_id,
        "can_undo": user.can("merge", perms.DELETE),
        "bulk_jobs": selectors.bulk_merges_recent(user),
    }
    return render(request, "quality/merge_list.html", context)


@permission_required(can("merge", perms.VIEW))
def merge_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    merge = merging.merge_get(actor=Actor.from_request(request), merge_id=pk)
    context = {
        "nav": "merges",
        "merge": selectors.merge_out(merge),
        "changes": selectors.merge_changes(merge, hidden_fields(user)),
        "can_undo": user.can("merge", perms.DELETE),
    }
    return render(request, "quality/merge_detail.html", context)


@require_POST
@permission_required(can("merge", perms.DELETE))
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        merge = merging.undo_merge(Actor.from_request(request), pk)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("quality:merge", pk=pk)
    messages.success(request, _("Merge undone: both contacts are back."))
    return redirect("quality:merge", pk=merge.pk)


# --- the rules ----------------------------------------------------------------------------


def _settings_context(settings: MergeSettings, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    custom = list(CustomField.objects.filter(entity="contact", is_active=True).values_list("key", "label"))
    fields = [(key, str(label)) for key, (label, _attnames) in GROUPS.items()]
    fields += [(f"{CUSTOM}{key}", label) for key, label in custom]
    ranking = list(settings.source_ranking or DEFAULT_SOURCE_RANKING)
    ranking += [s for s in Source.values if s not in ranking]
    sources = dict(Source.choices)
    return {
        "nav": "merge_settings",
        "settings": settings,
        "rule_choices": Rule.choices,
        "fields": [(key, label, (settings.rules or {}).get(key, "")) for key, label in fields],
        "ranking": [(s, sources.get(s, s), i + 1) for i, s in enumerate(ranking)],
        "errors": errors or {},
    }


def _settings_data(request: HttpRequest) -> dict[str, Any]:
    rules = {name[len("rule.") :]: value for name, value in request.POST.items() if name.startswith("rule.") and value}
    positions = []
    for name, value in request.POST.items():
        if name.startswith("rank."):
            position = _int(value)
            positions.append((position if position is not None else 10**6, name[len("rank.") :]))
    ranking = [source for _position, source in sorted(positions)]
    return {"default_rule": request.POST.get("default_rule", ""), "rules": rules, "source_ranking": ranking}


@permission_required(can("merge", perms.VIEW))
def merge_settings(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if request.method == "POST":
        if not user.can("merge", perms.EDIT):
            raise PermissionDenied(_("Your role cannot change the merge rules."))
        try:
            merge_settings_update(actor=Actor.from_request(request), data=_settings_data(request))
        except InvalidInput as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            context = _settings_context(MergeSettings.current(), details)
            context["editable"] = True
            return render(request, "quality/merge_settings.html", context, status=422)
        messages.success(request, _("Merge rules saved."))
        return redirect("quality:settings")
    context = _settings_context(MergeSettings.current())
    context["editable"] = user.can("merge", perms.EDIT)
    return render(request, "quality/merge_settings.html", context)


@permission_required(can("merge", perms.VIEW))
def bulk_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A bulk merge's progress; while it runs, the progress part reloads itself (htmx)."""
    job = bulk_merge_get(actor=Actor.from_request(request), pk=pk)
    context = {"nav": "merges", "job": job, "can_cancel": current_user(request).can("merge", perms.CREATE)}
    if is_htmx(request):
        return render(request, "quality/_bulk_progress.html", context)
    return render(request, "quality/bulk_merge.html", context)


@require_POST
@permission_required(can("merge", perms.CREATE))
def bulk_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        bulk_merge_cancel(actor=Actor.from_request(request), pk=pk)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Bulk merge stopped; the merges done stay and can be undone one by one."))
    return redirect("quality:bulk_merge", pk=pk)
