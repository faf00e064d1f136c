"""Segment and list pages: the list, the builder (htmx, server-rendered tree), one segment with
its members, history and chart, and the hand-kept lists' add and remove.

Views parse, call one service or selector, and render; an htmx request gets the partial it swaps.
A missing permission is a 403; bad input re-renders the form with the errors next to what caused
them (status 422), keeping everything the person typed, the condition tree included.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.contacts import selectors as contact_selectors
from danhba.core import formatting as fmt
from danhba.core.actor import Actor
from danhba.core.charts import Bar
from danhba.core.errors import InvalidInput, NotFound, ServiceError
from danhba.core.errors import PermissionDenied as ServicePermissionDenied
from danhba.core.keyset import BadCursor
from danhba.core.views import AuthedRequest, role_required
from danhba.segments import conditions as C
from danhba.segments import forms as F
from danhba.segments import selectors, services
from danhba.segments.extensions import campaign_choices
from danhba.segments.models import Segment
from danhba.tracking.selectors import event_name_seen, event_property_names, known_event_names

PAGE_SIZE = 50


def _n(n: int) -> dict[str, str]:
    return {"n": fmt.number(n)}


def _added(n: int) -> str:
    return ngettext("%(n)s contact added.", "%(n)s contacts added.", n) % _n(n)


def _actor(request: AuthedRequest) -> Actor:
    return Actor.from_request(request)


def _require(request: AuthedRequest, action: str) -> None:
    if not request.user.can("segment", action):
        raise DjangoPermissionDenied


def _segment(pk: int, user: User) -> Segment:
    try:
        return selectors.segment_get(pk, user)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServicePermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from None


def _error_text(exc: ServiceError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    parts = [", ".join(map(str, v)) for v in details.values() if isinstance(v, list)]
    return " ".join([exc.message, *parts])


# --- the list ---------------------------------------------------------------------------------


@role_required("segment", perms.VIEW)
def segment_list(request: AuthedRequest) -> HttpResponse:
    user = request.user
    kind = request.GET.get("kind", "")
    try:
        page = selectors.segment_page(cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, kind=kind)
    except BadCursor as exc:
        messages.error(request, exc.message)
        return redirect("segments:list")
    segments = selectors.visible_segments(page.items, user)
    counts = selectors.visible_counts(segments, user)
    series = selectors.size_series([s.pk for s in segments], days=30)
    rows = [
        {
            "segment": s,
            "count": counts[s.pk][0],
            "capped": counts[s.pk][1],
            "text": C.describe(s.conditions) if not s.is_static else "",
            "spark": series.get(s.pk, []),
        }
        for s in segments
    ]
    context = {"nav": "segments", "rows": rows, "page": page, "kind": kind}
    template = "segments/_list_rows.html" if request.htmx else "segments/list.html"
    return render(request, template, context)


# --- the builder ------------------------------------------------------------------------------


def _builder_context(
    request: AuthedRequest,
    *,
    segment: Segment | None,
    kind: str,
    form: F.SegmentForm,
    tree: dict[str, Any],
    errors: dict[F.Path, list[str]] | None = None,
    preview: dict[str, Any] | None = None,
) -> dict[str, Any]:
    user = request.user
    return {
        "nav": "segments",
        "segment": segment,
        "kind": kind,
        "form": form,
        "root": _tree_view(tree, user, errors),
        "preview": preview if preview is not None else {},
        **_builder_options(request),
    }


def builder_parts(request: AuthedRequest, tree: dict[str, Any], *, check: bool = True) -> dict[str, Any]:
    """What ``segments/_tree.html`` and ``_preview_body.html`` need to show the condition builder
    on another app's page (a workflow's branch): the tree with its errors by node, the live
    preview, and the choices. The page posts to this app's builder and preview endpoints."""
    preview = _preview(request, tree, None) if check else {}
    return {
        "root": _tree_view(tree, request.user, preview.get("errors")),
        "preview": preview,
        **_builder_options(request),
    }


def _tree_view(tree: dict[str, Any], user: User, errors: dict[F.Path, list[str]] | None) -> F.NodeView:
    """The tree to render, its event conditions with their hints (property names seen, a name
    never seen)."""
    root = F.tree_view(tree, user, errors)
    if not user.can("event", perms.VIEW):
        return root
    for node in F.event_nodes(root):
        name = str(node.node.get("name") or "").strip()
        if name:
            node.unseen = not event_name_seen(name)
            node.properties = event_property_names(name) if node.kind == "event" else []
    return root


def _builder_options(request: AuthedRequest) -> dict[str, Any]:
    from danhba.contacts.models import Tag
    from danhba.privacy.models import ConsentPurpose
    from danhba.tracking.models import Event

    user = request.user
    builder_url = reverse("segments:builder")
    swap = 'hx-post="{}" hx-target="#tree" hx-swap="outerHTML" hx-sync="closest form:replace"'
    return {
        # A change of these inputs changes the inputs shown: the tree is rendered again.
        "structural": format_html(swap + ' hx-trigger="change consume"', builder_url),
        "button_attrs": format_html(swap, builder_url),
        "kinds": F.kind_choices(user),
        "field_groups": F.field_groups(user),
        "count_labels": list(F.COUNT_LABELS.items()),
        "property_operators": [(op, str(C.OPERATOR_LABELS.get(op, op))) for op in C.PROPERTY_OPERATORS],
        "purchase_metrics": [(k, str(v[1]).capitalize()) for k, v in C.PURCHASE_METRICS.items()],
        "consent_purposes": [(p.key, p.label) for p in ConsentPurpose.objects.all()],
        "consent_statuses": [("granted", _("granted")), ("withdrawn", _("withdrawn")), ("unknown", _("not asked"))],
        "event_types": list(Event.Type.choices),
        "segment_choices": selectors.segment_choices(),
        "email_actions": [(k, str(v)) for k, v in C.EMAIL_ACTION_LABELS.items()],
        "email_campaigns": campaign_choices() if user.can("event", perms.VIEW) else [],
        "tag_names": list(Tag.objects.values_list("name", flat=True)[:500]),
        "event_names": known_event_names() if user.can("event", perms.VIEW) else [],
        "preview_url": reverse("segments:preview"),
        "builder_url": builder_url,
    }


def _preview(request: AuthedRequest, tree: dict[str, Any], segment_id: int | None) -> dict[str, Any]:
    """Check the tree and, when it is valid, what it matches now, with warnings (event names
    never received); errors by node otherwise, except on conditions not filled in yet: those
    only make the preview wait."""
    try:
        cleaned = C.clean(tree, user=request.user, segment_id=segment_id)
    except InvalidInput as exc:
        errors = F.without_blank(tree, F.errors_by_node(exc.details))
        return {"ok": False, "errors": errors, "message": exc.message, "incomplete": not errors}
    result = selectors.preview(cleaned, request.user)
    names = F.event_names_in(cleaned) if request.user.can("event", perms.VIEW) else []
    unseen = [name for name in names if not event_name_seen(name)]
    return {"ok": True, "errors": {}, "result": result, "unseen": unseen}


def _paths(view: F.NodeView) -> list[F.NodeView]:
    out = [view]
    for child in view.children:
        out.extend(_paths(child))
    return out


def _segment_id(request: AuthedRequest) -> int | None:
    raw = request.POST.get("segment_id", "")
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) < 2**63 else None


@require_POST
@role_required("segment", perms.VIEW)
def builder_preview(request: AuthedRequest) -> HttpResponse:
    """The live part of the builder: readable text, count, a sample and errors by node (the
    node errors as out-of-band swaps, so the tree being typed into is not re-rendered)."""
    tree = F.parse_tree(request.POST)
    preview = _preview(request, tree, _segment_id(request))
    nodes = _paths(F.tree_view(tree, request.user, preview["errors"]))
    return render(request, "segments/_preview.html", {"preview": preview, "nodes": nodes, "oob_errors": True})


@require_GET
@role_required("segment", perms.VIEW)
def builder_event_hints(request: AuthedRequest) -> HttpResponse:
    """The hints of one event condition as its name changes: the property names seen on that
    event (a datalist for its property filters) and a warning when no such event was received."""
    if not request.user.can("event", perms.VIEW):
        raise DjangoPermissionDenied
    node = request.GET.get("node", "")
    if not F.is_node_name(node):
        return HttpResponse(status=400)
    name = (request.GET.get(f"{node}__name") or "").strip()[:200]
    context = {
        "name": node,
        "event_name": name,
        "properties": event_property_names(name),
        "unseen": bool(name) and not event_name_seen(name),
    }
    return render(request, "segments/_event_hints.html", context)


@require_POST
@role_required("segment", perms.VIEW)
def builder_tree(request: AuthedRequest) -> HttpResponse:
    """A structural change (add, remove, another kind, field or operator): the tree re-rendered,
    and the preview out of band."""
    user = request.user
    tree = F.parse_tree(request.POST)
    action = request.POST.get("action", "")
    if action:
        tree = F.apply_action(tree, action, user)
    tree = F.normalize_choices(tree, user, request.headers.get("HX-Trigger-Name", ""))
    preview = _preview(request, tree, _segment_id(request))
    context = {"root": _tree_view(tree, user, preview["errors"]), "preview": preview, **_builder_options(request)}
    return render(request, "segments/_builder_tree.html", context)


def _store_segment(
    request: AuthedRequest, segment: Segment | None, kind: str, data: dict[str, Any], tree: Any
) -> Segment:
    """Create or save the builder's segment; raises InvalidInput with the reasons."""
    if segment is None:
        segment = services.segment_create(
            actor=_actor(request),
            name=data["name"],
            description=data["description"],
            kind=kind,
            conditions=tree if kind == Segment.Kind.DYNAMIC else None,
        )
        messages.success(request, _("“%(name)s” created.") % {"name": segment.name})
        return segment
    changes: dict[str, Any] = {"name": data["name"], "description": data["description"]}
    if not segment.is_static:
        changes["conditions"] = tree
    segment = services.segment_update(actor=_actor(request), segment=segment, data=changes)
    messages.success(request, _("“%(name)s” saved.") % {"name": segment.name})
    return segment


def _save_builder(request: AuthedRequest, segment: Segment | None) -> HttpResponse:
    user = request.user
    kind = segment.kind if segment else F.kind_of(request.GET.get("kind") or request.POST.get("kind", ""))
    segment_id = segment.pk if segment else None
    if request.method != "POST":
        form = F.SegmentForm(initial={"name": segment.name, "description": segment.description} if segment else None)
        tree = segment.conditions if segment else {"op": "all", "conditions": []}
        tree = tree if tree.get("conditions") else F.apply_action(tree, "add_condition:", user)
        preview = _preview(request, tree, segment_id) if kind == Segment.Kind.DYNAMIC else {}
        context = _builder_context(request, segment=segment, kind=kind, form=form, tree=tree, preview=preview)
        return render(request, "segments/builder.html", context)
    form = F.SegmentForm(request.POST)
    tree = F.parse_tree(request.POST)
    action = request.POST.get("action", "")
    if action and action != "save":
        # Without JavaScript the add/remove buttons submit the whole form: apply and show again.
        tree = F.normalize_choices(F.apply_action(tree, action, user), user)
        preview = _preview(request, tree, segment_id)
        context = _builder_context(
            request, segment=segment, kind=kind, form=form, tree=tree, errors=preview["errors"], preview=preview
        )
        return render(request, "segments/builder.html", context)
    errors: dict[F.Path, list[str]] = {}
    if form.is_valid():
        try:
            saved = _store_segment(request, segment, kind, form.cleaned_data, tree)
        except InvalidInput as exc:
            form.apply_errors(exc.details)
            errors = F.errors_by_node(exc.details)
            if errors:
                form.add_error(None, _("Some conditions are not valid; see the marked ones."))
        else:
            return redirect("segments:detail", pk=saved.pk)
    preview = _preview(request, tree, segment_id) if kind == Segment.Kind.DYNAMIC else {}
    context = _builder_context(
        request, segment=segment, kind=kind, form=form, tree=tree, errors=errors or None, preview=preview
    )
    return render(request, "segments/builder.html", context, status=422)


@role_required("segment", perms.CREATE)
def segment_create(request: AuthedRequest) -> HttpResponse:
    return _save_builder(request, None)


@role_required("segment", perms.EDIT)
def segment_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    return _save_builder(request, _segment(pk, request.user))


# --- one segment ------------------------------------------------------------------------------


def _chart(segment: Segment) -> list[Bar]:
    points = selectors.size_series([segment.pk], days=90)[segment.pk]
    return [Bar(fmt.day_month(p.day), p.size, title=f"{fmt.day(p.day)}: {fmt.number(p.size)}") for p in points]


def _tab_context(request: AuthedRequest, segment: Segment, tab: str) -> dict[str, Any]:
    user = request.user
    cursor = request.GET.get("cursor") or None
    context: dict[str, Any] = {"tab": tab, "cursor": cursor}
    if tab == "history":
        context["changes"] = selectors.history_page(segment, user, cursor=cursor, limit=PAGE_SIZE)
    else:
        context["members"] = selectors.member_page(segment, user, cursor=cursor, limit=PAGE_SIZE)
    return context


@require_GET
@role_required("segment", perms.VIEW)
def segment_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    segment = _segment(pk, request.user)
    tab = "history" if request.GET.get("tab") == "history" else "members"
    try:
        tab_context = _tab_context(request, segment, tab)
    except BadCursor as exc:
        if request.htmx:
            return HttpResponse(exc.message, status=400)
        messages.error(request, exc.message)
        return redirect("segments:detail", pk=pk)
    context: dict[str, Any] = {"segment": segment, **tab_context}
    if request.htmx and request.GET.get("part") == "tab":
        return render(request, "segments/_tab.html", context)
    count, capped = selectors.visible_count(segment, user)
    context.update(
        nav="segments",
        count=count,
        capped=capped,
        everyone=selectors.sees_everyone(user),
        text=C.describe(segment.conditions) if not segment.is_static else "",
        bars=_chart(segment),
        can_export=user.can("segment", perms.EXPORT) and user.can("contact", perms.EXPORT),
        snapshot_form=F.SnapshotForm(
            initial={"name": _("%(name)s, %(day)s") % {"name": segment.name, "day": fmt.day(timezone.localdate())}}
        ),
        import_form=F.ListImportForm(),
    )
    return render(request, "segments/detail.html", context)


@require_GET
@role_required("segment", perms.VIEW)
def segment_status(request: AuthedRequest, pk: int) -> HttpResponse:
    """The refresh status line, polled while a refresh is under way."""
    return _status(request, _segment(pk, request.user))


def _status(request: AuthedRequest, segment: Segment) -> HttpResponse:
    count, capped = selectors.visible_count(segment, request.user)
    context = {"segment": segment, "count": count, "capped": capped}
    return render(request, "segments/_status.html", context)


@require_POST
@role_required("segment", perms.VIEW)
def segment_refresh(request: AuthedRequest, pk: int) -> HttpResponse:
    segment = _segment(pk, request.user)
    try:
        segment = services.segment_refresh_request(actor=_actor(request), segment=segment)
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
    else:
        if request.htmx:  # the status line shows the progress
            segment.refresh_from_db()
            return _status(request, segment)
        segment.refresh_from_db()
        if segment.refresh_requested_at:
            messages.info(request, _("The refresh is under way; you can leave this page and come back."))
        else:
            messages.success(request, _("Refreshed."))
    return redirect("segments:detail", pk=pk)


@require_POST
@role_required("segment", perms.CREATE)
def segment_snapshot(request: AuthedRequest, pk: int) -> HttpResponse:
    segment = _segment(pk, request.user)
    form = F.SnapshotForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("segments:detail", pk=pk)
    try:
        target = services.list_snapshot(actor=_actor(request), segment=segment, name=form.cleaned_data["name"])
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
        return redirect("segments:detail", pk=pk)
    messages.success(
        request,
        ngettext(
            "List “%(name)s” made with %(n)s contact.", "List “%(name)s” made with %(n)s contacts.", target.member_count
        )
        % {"name": target.name, "n": fmt.number(target.member_count)},
    )
    return redirect("segments:detail", pk=target.pk)


@role_required("segment", perms.DELETE)
def segment_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    segment = _segment(pk, request.user)
    if request.method == "POST":
        try:
            services.segment_delete(actor=_actor(request), segment=segment)
        except ServiceError as exc:
            messages.error(request, _error_text(exc))
            return redirect("segments:detail", pk=pk)
        messages.success(request, _("“%(name)s” deleted.") % {"name": segment.name})
        return redirect("segments:list")
    return render(request, "segments/delete.html", {"nav": "segments", "segment": segment})


# --- static lists -----------------------------------------------------------------------------


@require_GET
@role_required("segment", perms.EDIT)
def list_search(request: AuthedRequest, pk: int) -> HttpResponse:
    """Contacts to add to a list: the contact search, each marked when already in the list."""
    segment = _segment(pk, request.user)
    q = (request.GET.get("q") or "").strip()[:200]
    contacts: list[Any] = []
    if q:
        filters = contact_selectors.ContactFilters(q=q)
        contacts = contact_selectors.contact_page(request.user, filters, limit=20).items
    present = set(segment.members.filter(contact_id__in=[c.pk for c in contacts]).values_list("contact_id", flat=True))
    context = {"segment": segment, "q": q, "found": [(c, c.pk in present) for c in contacts]}
    return render(request, "segments/_search_results.html", context)


@require_POST
@role_required("segment", perms.EDIT)
def list_add(request: AuthedRequest, pk: int) -> HttpResponse:
    segment = _segment(pk, request.user)
    ids = F.ListAddForm().contact_ids(request.POST)
    if not ids:
        messages.error(request, _("Tick or type the contacts to add."))
    else:
        try:
            n = services.list_add(actor=_actor(request), segment=segment, contact_ids=ids)
        except ServiceError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _added(n))
    return redirect("segments:detail", pk=pk)


@require_POST
@role_required("segment", perms.EDIT)
def list_remove(request: AuthedRequest, pk: int) -> HttpResponse:
    segment = _segment(pk, request.user)
    ids = F.ListAddForm().contact_ids(request.POST)
    if not ids:
        messages.error(request, _("Tick the members to remove."))
    else:
        try:
            n = services.list_remove(actor=_actor(request), segment=segment, contact_ids=ids)
        except ServiceError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, ngettext("%(n)s contact removed.", "%(n)s contacts removed.", n) % _n(n))
    return redirect("segments:detail", pk=pk)


@require_POST
@role_required("segment", perms.EDIT)
def list_import(request: AuthedRequest, pk: int) -> HttpResponse:
    """Add the contacts named one per line (pasted or a file); lines that matched nobody are
    listed with their line numbers."""
    segment = _segment(pk, request.user)
    form = F.ListImportForm(request.POST, request.FILES)
    unmatched: list[tuple[int, str, str]] = []
    added = None
    status = 200
    if form.is_valid():
        try:
            lines = form.lines()
            if not any(line.strip() for line in lines):
                form.add_error("text", _("Paste at least one email, phone number or contact id."))
            else:
                added, unmatched = services.list_add_by_keys(actor=_actor(request), segment=segment, lines=lines)
        except F.forms.ValidationError as exc:
            form.add_error("file", exc)
        except ServiceError as exc:
            form.add_error(None, _error_text(exc))
    if form.errors:
        status = 422
    segment.refresh_from_db()
    context = {"segment": segment, "import_form": form, "added": added, "unmatched": unmatched[:1000],
               "unmatched_total": len(unmatched)}  # fmt: skip
    if request.htmx:
        if added:  # the size and the members behind the form changed too: swap them in (OOB)
            count, capped = selectors.visible_count(segment, request.user)
            context.update(_tab_context(request, segment, "members"), count=count, capped=capped, oob=True)
        return render(request, "segments/_import.html", context, status=status)
    if added is not None:
        messages.success(request, _added(added))
        if not unmatched:
            return redirect("segments:detail", pk=pk)
    return render(request, "segments/import_result.html", {"nav": "segments", **context}, status=status)
