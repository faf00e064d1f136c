"""The "Fields and stages" settings: custom fields, lifecycle stages, buyer roles, tags, and the
short lists of other apps (privacy's consent purposes), which they add to ``SETTINGS_TABS`` and
``SETTINGS_LISTS`` in their ``AppConfig.ready()``. Each view parses a form, calls one service,
and renders; rows of the short lists are edited in place with htmx and work as plain pages
without it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.models import User
from danhba.accounts.views import FORM_ERRORS, current_user, is_htmx, permission_required
from danhba.contacts.models import BuyerRole, CustomField, LabelledChoice, LifecycleStage, Tag
from danhba.contacts.services import choices
from danhba.contacts.services import fields as field_services
from danhba.contacts.services import tags as tag_services
from danhba.core.actor import Actor
from danhba.core.errors import PermissionDenied, ServiceError
from danhba.core.hooks import Registry

# --- who may see which tab ------------------------------------------------------------------


def may_edit_fields(user: User) -> bool:
    return any(user.can("customfield", a) for a in (perms.CREATE, perms.EDIT, perms.DELETE))


def may_edit_tags(user: User) -> bool:
    return any(user.can("tag", a) for a in (perms.CREATE, perms.EDIT, perms.DELETE))


def is_admin(user: User) -> bool:
    return user.is_active and user.is_admin


# The tabs of the settings page: (label, who may open it), by key, in position order.
SETTINGS_TABS: Registry[tuple[Any, Callable[[User], bool]]] = Registry(
    "contacts.settings_tabs", doc="Tabs of the Fields and stages settings page (other apps add theirs)."
)
SETTINGS_TABS.add("fields", (gettext_lazy("Custom fields"), may_edit_fields), position=10)
SETTINGS_TABS.add("stages", (gettext_lazy("Stages and buyer roles"), is_admin), position=20)
SETTINGS_TABS.add("tags", (gettext_lazy("Tags"), may_edit_tags), position=30)


def allowed_tabs(user: User) -> list[tuple[str, Any]]:
    return [(key, label) for key, (label, test) in SETTINGS_TABS.items() if test(user)]


def may_open_settings(user: User) -> bool:
    return bool(allowed_tabs(user))


# --- forms ----------------------------------------------------------------------------------

_TEXTAREA = forms.Textarea(attrs={"rows": 4})


class CustomFieldForm(forms.Form):
    label = forms.CharField(label=gettext_lazy("Label"), max_length=120)
    choices = forms.CharField(
        label=gettext_lazy("Choices"),
        required=False,
        widget=_TEXTAREA,
        help_text=gettext_lazy("For choice fields: one choice a line."),
    )
    required = forms.BooleanField(label=gettext_lazy("Required"), required=False)
    is_sensitive = forms.BooleanField(
        label=gettext_lazy("Sensitive"),
        required=False,
        help_text=gettext_lazy("Hidden from roles that are not granted it on the Roles page."),
    )
    help_text = forms.CharField(label=gettext_lazy("Help text"), max_length=240, required=False)
    position = forms.IntegerField(label=gettext_lazy("Position"), required=False, min_value=0, max_value=32000)

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("position") is None:
            data.pop("position", None)
        return data


class CustomFieldCreateForm(CustomFieldForm):
    entity = forms.ChoiceField(label=gettext_lazy("Applies to"), choices=CustomField.Entity.choices)
    type = forms.ChoiceField(label=gettext_lazy("Type"), choices=CustomField.Type.choices)
    key = forms.CharField(
        label=gettext_lazy("Key"),
        max_length=60,
        required=False,
        help_text=gettext_lazy("Used in imports, the API and segments. Made from the label if left empty."),
    )

    field_order = ["entity", "label", "type", "key", "choices", "required", "is_sensitive", "help_text", "position"]


class CustomFieldEditForm(CustomFieldForm):
    is_active = forms.BooleanField(
        label=gettext_lazy("Active"), required=False, help_text=gettext_lazy("Retired fields keep their values.")
    )


class ChoiceForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name (English)"), max_length=120)
    name_vi = forms.CharField(label=gettext_lazy("Name (Vietnamese)"), max_length=120, required=False)
    position = forms.IntegerField(label=gettext_lazy("Position"), required=False, min_value=0, max_value=32000)
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("position") is None:
            data.pop("position", None)
        return data


class TagForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)
    color = forms.CharField(
        label=gettext_lazy("Colour"), max_length=7, required=False, widget=forms.TextInput(attrs={"type": "color"})
    )


# --- the choice lists -----------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceKind:
    slug: str
    tab: str
    title: Any
    model: type[LabelledChoice]
    form: type[ChoiceForm]
    save: Callable[[Actor, Any, dict[str, Any]], LabelledChoice]
    delete: Callable[[Actor, Any], None] | None = None
    counts_contacts: bool = True

    @property
    def can_delete(self) -> bool:
        return self.delete is not None

    def rows(self) -> Any:
        # Explicit order: Meta.ordering does not apply to a GROUP BY query.
        qs = self.model._default_manager.order_by("position", "key")
        return qs.annotate(usage=Count("contacts")) if self.counts_contacts else qs


# The short lists the settings page edits, by slug (other apps add theirs).
SETTINGS_LISTS: Registry[ChoiceKind] = Registry(
    "contacts.settings_lists", doc="Short lists edited on the settings page (stages, buyer roles, consent purposes…)."
)
KINDS = {
    "stages": ChoiceKind(
        slug="stages",
        tab="stages",
        title=gettext_lazy("Lifecycle stages"),
        model=LifecycleStage,
        form=ChoiceForm,
        save=lambda actor, item, data: choices.lifecycle_stage_save(actor=actor, stage=item, data=data),
        delete=lambda actor, item: choices.lifecycle_stage_delete(actor=actor, stage=item),
    ),
    "buyer-roles": ChoiceKind(
        slug="buyer-roles",
        tab="stages",
        title=gettext_lazy("Buyer roles"),
        model=BuyerRole,
        form=ChoiceForm,
        save=lambda actor, item, data: choices.buyer_role_save(actor=actor, buyer_role=item, data=data),
        delete=lambda actor, item: choices.buyer_role_delete(actor=actor, buyer_role=item),
    ),
}
for _slug, _list in KINDS.items():
    SETTINGS_LISTS.add(_slug, _list)


def _kind(slug: str) -> ChoiceKind:
    kind = SETTINGS_LISTS.get(slug)
    if kind is None:
        raise Http404("No such list.")
    return kind


def _index_url(tab: str) -> str:
    return f"{resolve_url('settings:index')}?tab={tab}"


# --- the page -------------------------------------------------------------------------------


def _index_page(request: HttpRequest, tab: str, add_forms: dict[str, forms.Form] | None = None) -> HttpResponse:
    user = current_user(request)
    tabs = allowed_tabs(user)
    if tab not in dict(tabs):
        tab = tabs[0][0]
    add_forms = add_forms or {}
    context: dict[str, Any] = {"nav": "fields", "tabs": tabs, "tab": tab}
    if tab == "fields":
        fields = list(CustomField.objects.order_by("entity", "-is_active", "position", "label"))
        context["field_groups"] = [
            (value, label, [f for f in fields if f.entity == value]) for value, label in CustomField.Entity.choices
        ]
    elif tab == "tags":
        context["tags"] = Tag.objects.annotate(usage=Count("contacts")).order_by("name_key")
        context["tag_form"] = add_forms.get("tags") or TagForm(initial={"color": "#64748b"})
    else:
        context["lists"] = [
            {
                "kind": kind,
                "rows": kind.rows(),
                "form": add_forms.get(kind.slug) or kind.form(initial={"is_active": True}),
            }
            for kind in SETTINGS_LISTS
            if kind.tab == tab
        ]
    failed = any(form.errors for form in add_forms.values())
    return render(request, "settings/index.html", context, status=FORM_ERRORS if failed else 200)


@permission_required(may_open_settings)
def index(request: HttpRequest) -> HttpResponse:
    return _index_page(request, request.GET.get("tab", ""))


# --- custom fields --------------------------------------------------------------------------


@permission_required(lambda user: user.can("customfield", perms.CREATE))
@require_http_methods(["GET", "POST"])
def field_create(request: HttpRequest) -> HttpResponse:
    entity = request.GET.get("entity", CustomField.Entity.CONTACT)
    form = CustomFieldCreateForm(request.POST or None, initial={"entity": entity, "type": CustomField.Type.TEXT})
    if request.method == "POST" and form.is_valid():
        try:
            field = field_services.customfield_save(
                actor=Actor.from_request(request), field=None, data=form.service_data()
            )
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("The field %(label)s is added.") % {"label": field.label})
            return redirect(_index_url("fields"))
    return render(
        request,
        "settings/field_form.html",
        {"nav": "fields", "form": form, "field": None},
        status=FORM_ERRORS if form.errors else 200,
    )


@permission_required(lambda user: user.can("customfield", perms.EDIT))
@require_http_methods(["GET", "POST"])
def field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_object_or_404(CustomField, pk=pk)
    initial = {
        "label": field.label,
        "choices": "\n".join(map(str, field.choices)),
        "required": field.required,
        "is_sensitive": field.is_sensitive,
        "help_text": field.help_text,
        "position": field.position,
        "is_active": field.is_active,
    }
    form = CustomFieldEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            field_services.customfield_save(actor=Actor.from_request(request), field=field, data=form.service_data())
        except ServiceError as exc:
            apply_service_error(form, exc)
            field.refresh_from_db()
        else:
            messages.success(request, _("The field %(label)s is saved.") % {"label": field.label})
            return redirect(_index_url("fields"))
    return render(
        request,
        "settings/field_form.html",
        {"nav": "fields", "form": form, "field": field},
        status=FORM_ERRORS if form.errors else 200,
    )


@permission_required(lambda user: user.can("customfield", perms.DELETE))
@require_POST
def field_retire(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_object_or_404(CustomField, pk=pk)
    field_services.customfield_delete(actor=Actor.from_request(request), field=field)
    messages.success(request, _("The field %(label)s is retired; its values are kept.") % {"label": field.label})
    return redirect(_index_url("fields"))


# --- stages, buyer roles, consent purposes --------------------------------------------------


def _row(request: HttpRequest, kind: ChoiceKind, item: LabelledChoice, form: ChoiceForm | None = None) -> HttpResponse:
    if kind.counts_contacts:
        item = kind.rows().get(pk=item.pk)
    template = "settings/_choice_row_form.html" if form is not None else "settings/_choice_row.html"
    status = FORM_ERRORS if form is not None and form.errors else 200
    return render(request, template, {"kind": kind, "item": item, "form": form}, status=status)


@permission_required(is_admin)
@require_POST
def choice_create(request: HttpRequest, kind: str) -> HttpResponse:
    spec = _kind(kind)
    form = spec.form(request.POST)
    if form.is_valid():
        try:
            item = spec.save(Actor.from_request(request), None, form.service_data())
        except PermissionDenied:
            raise
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("%(name)s is added.") % {"name": item.name})
            return redirect(_index_url(spec.tab))
    return _index_page(request, spec.tab, add_forms={spec.slug: form})


@permission_required(is_admin)
@require_http_methods(["GET", "POST"])
def choice_edit(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    spec = _kind(kind)
    item = get_object_or_404(spec.model._default_manager.all(), pk=pk)
    if request.method == "GET":
        if request.GET.get("cancel") and is_htmx(request):
            return _row(request, spec, item)
        initial = {f: getattr(item, f) for f in spec.form.base_fields}
        form = spec.form(initial=initial)
    else:
        form = spec.form(request.POST)
        if form.is_valid():
            try:
                item = spec.save(Actor.from_request(request), item, form.service_data())
            except PermissionDenied:
                raise
            except ServiceError as exc:
                apply_service_error(form, exc)
                item.refresh_from_db()
            else:
                if is_htmx(request):
                    return _row(request, spec, item)
                messages.success(request, _("%(name)s is saved.") % {"name": item.name})
                return redirect(_index_url(spec.tab))
    if is_htmx(request):
        return _row(request, spec, item, form=form)
    return render(
        request,
        "settings/choice_form.html",
        {"nav": "fields", "kind": spec, "item": item, "form": form},
        status=FORM_ERRORS if form.errors else 200,
    )


@permission_required(is_admin)
@require_POST
def choice_delete(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    spec = _kind(kind)
    if spec.delete is None:
        raise Http404("These cannot be deleted; deactivate them instead.")
    item = get_object_or_404(spec.model._default_manager.all(), pk=pk)
    try:
        spec.delete(Actor.from_request(request), item)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, _("%(name)s was not deleted: %(reason)s") % {"name": item.name, "reason": exc.message})
    else:
        messages.success(request, _("%(name)s is deleted.") % {"name": item.name})
    return redirect(_index_url(spec.tab))


# --- tags -----------------------------------------------------------------------------------


def _tag_row(request: HttpRequest, tag: Tag, form: TagForm | None = None) -> HttpResponse:
    tag = Tag.objects.annotate(usage=Count("contacts")).get(pk=tag.pk)
    template = "settings/_tag_row_form.html" if form is not None else "settings/_tag_row.html"
    status = FORM_ERRORS if form is not None and form.errors else 200
    return render(request, template, {"tag": tag, "form": form}, status=status)


@permission_required(lambda user: user.can("tag", perms.CREATE))
@require_POST
def tag_create(request: HttpRequest) -> HttpResponse:
    form = TagForm(request.POST)
    if form.is_valid():
        try:
            tag = tag_services.tag_save(
                actor=Actor.from_request(request),
                tag=None,
                name=form.cleaned_data["name"],
                color=form.cleaned_data["color"],
            )
        except PermissionDenied:
            raise
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("The tag %(name)s is added.") % {"name": tag.name})
            return redirect(_index_url("tags"))
    return _index_page(request, "tags", add_forms={"tags": form})


@permission_required(lambda user: user.can("tag", perms.EDIT))
@require_http_methods(["GET", "POST"])
def tag_edit(request: HttpRequest, pk: int) -> HttpResponse:
    tag = get_object_or_404(Tag, pk=pk)
    if request.method == "GET":
        if request.GET.get("cancel") and is_htmx(request):
            return _tag_row(request, tag)
        form = TagForm(initial={"name": tag.name, "color": tag.color})
    else:
        form = TagForm(request.POST)
        if form.is_valid():
            try:
                tag = tag_services.tag_save(
                    actor=Actor.from_request(request),
                    tag=tag,
                    name=form.cleaned_data["name"],
                    color=form.cleaned_data["color"],
                )
            except PermissionDenied:
                raise
            except ServiceError as exc:
                apply_service_error(form, exc)
                tag.refresh_from_db()
            else:
                if is_htmx(request):
                    return _tag_row(request, tag)
                messages.success(request, _("The tag %(name)s is saved.") % {"name": tag.name})
                return redirect(_index_url("tags"))
    if is_htmx(request):
        return _tag_row(request, tag, form=form)
    return render(
        request,
        "settings/tag_form.html",
        {"nav": "fields", "tag": tag, "form": form},
        status=FORM_ERRORS if form.errors else 200,
    )


@permission_required(lambda user: user.can("tag", perms.DELETE))
@require_POST
def tag_delete(request: HttpRequest, pk: int) -> HttpResponse:
    tag = get_object_or_404(Tag, pk=pk)
    tag_services.tag_delete(actor=Actor.from_request(request), tag=tag)
    messages.success(request, _("The tag %(name)s is deleted.") % {"name": tag.name})
    return redirect(_index_url("tags"))
