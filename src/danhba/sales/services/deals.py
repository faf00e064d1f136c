"""Deals: create, change, delete, their product lines, and moving them through the stages of
their pipeline. Won and lost close a deal; lost needs a reason from the list and a note. Both
become events of the internal "sales" source on every contact of the deal ("Deal Won", "Deal
Lost", with the reason among the properties), so segments and workflows can use them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.audit.models import AuditEvent
from danhba.contacts.models import Company, Contact
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound
from danhba.orders.models import Product
from danhba.sales import checks as C
from danhba.sales.models import HOME_CURRENCY, Deal, DealLine, DealStageChange, LostReason, PriceList, Stage
from danhba.sales.services.common import audit, diff, snapshot
from danhba.sales.services.prices import price_for
from danhba.tracking.services.server import ServerEvent, server_events_store

SOURCE = "sales"
WON_EVENT, LOST_EVENT = "Deal Won", "Deal Lost"
DEAL_FIELDS = (
    "title", "pipeline_id", "stage_id", "status", "primary_contact_id", "company_id", "value", "currency", "rate",
    "value_vnd", "expected_close", "owner_id", "source", "lost_reason_id", "lost_note", "price_list_id",
)  # fmt: skip
LINE_FIELDS = ("name", "product_id", "quantity", "price", "discount", "position", "price_list_id")
MAX_LINES = 200


def deal_get(*, actor: Actor, pk: int) -> Deal:
    """A deal the actor may see, or NotFound (never telling that it exists)."""
    qs = Deal.objects.select_related("pipeline", "stage", "owner", "primary_contact", "company", "lost_reason")
    if actor.user is not None:
        qs = qs.visible_to(actor.user)
    deal = qs.filter(pk=pk).first()
    if deal is None:
        raise NotFound(_("No such deal."))
    return deal


# --- checking a payload -----------------------------------------------------------------------


def _contacts(actor: Actor, ids: list[int], key: str, errors: C.Errors) -> list[int]:
    qs = Contact.objects.all() if actor.user is None else Contact.objects.visible_to(actor.user)
    found = set(qs.filter(pk__in=ids).values_list("pk", flat=True))
    if len(found) != len(set(ids)):
        C.add(errors, key, _("No such contact."))
    return [i for i in ids if i in found]


def _owner(actor: Actor, owner_id: int | None, errors: C.Errors) -> int | None:
    """The owner must be an active user, and within the actor's record scope (a rep who sees
    only their own deals cannot hand one to someone else)."""
    if owner_id is None:
        return None
    owner = User.objects.filter(pk=owner_id, is_active=True).first()
    user = actor.user
    allowed = owner is not None and (
        user is None
        or user.role.record_scope == perms.SCOPE_ALL
        or owner.pk == user.pk
        or (user.role.record_scope == perms.SCOPE_TEAM and user.team_id and owner.team_id == user.team_id)
    )
    if not allowed:
        C.add(errors, "owner_id", _("No such user, or not one you may give deals to."))
        return None
    return owner_id


def _links(actor: Actor, data: dict[str, Any], errors: C.Errors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "primary_contact_id" in data:
        pid = C.one_id(data, "primary_contact_id", errors)
        found = _contacts(actor, [pid], "primary_contact_id", errors) if pid else []
        out["primary_contact_id"] = found[0] if found else None
    if "contact_ids" in data:
        out["contact_ids"] = _contacts(actor, C.ids(data, "contact_ids", errors), "contact_ids", errors)
    if "company_id" in data:
        cid = C.one_id(data, "company_id", errors)
        if cid is not None and not Company.objects.filter(pk=cid).exists():
            C.add(errors, "company_id", _("No such company."))
        out["company_id"] = cid
    if "owner_id" in data:
        out["owner_id"] = _owner(actor, C.one_id(data, "owner_id", errors), errors)
    return out


def _money_values(deal: Deal, data: dict[str, Any], errors: C.Errors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "currency" in data:
        out["currency"] = C.currency(data, "currency", errors)
    currency = out.get("currency", deal.currency)
    if "rate" in data:
        out["rate"] = C.money(data, "rate", errors, positive=True)
    elif "currency" in data:
        out["rate"] = Decimal(1) if currency == HOME_CURRENCY else None
        if out["rate"] is None:
            C.add(errors, "rate", _("A deal in another currency needs its rate to VND."))
    if currency == HOME_CURRENCY and out.get("rate") not in (None, Decimal(1)):
        C.add(errors, "rate", _("The rate of VND is 1."))
    if "value" in data:
        if deal.pk and deal.lines.exists():
            C.add(errors, "value", _("This deal's value is the sum of its product lines."))
        out["value"] = C.money(data, "value", errors)
    return out


def _deal_values(actor: Actor, deal: Deal, data: dict[str, Any]) -> dict[str, Any]:
    errors: C.Errors = {}
    out: dict[str, Any] = {}
    if "title" in data or not deal.pk:
        out["title"] = C.text(data, "title", errors, most=200)
    if "source" in data:
        out["source"] = C.text(data, "source", errors, most=60, required=False)
    if "expected_close" in data:
        out["expected_close"] = C.date(data, "expected_close", errors)
    if "price_list_id" in data:
        lid = C.one_id(data, "price_list_id", errors)
        if lid is not None and not PriceList.objects.filter(pk=lid).exists():
            C.add(errors, "price_list_id", _("No such price list."))
        out["price_list_id"] = lid
    out.update(_links(actor, data, errors))
    out.update(_money_values(deal, data, errors))
    if errors:
        raise InvalidInput(errors)
    return out


def _valued(deal: Deal) -> None:
    deal.value_vnd = (deal.value * deal.rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _start_stage(data: dict[str, Any]) -> Stage:
    """The stage a new deal starts in: the one asked for (an open stage), else the first open
    stage of the pipeline asked for, else of the first active pipeline."""
    errors: C.Errors = {}
    stage_id = C.one_id(data, "stage_id", errors)
    pipeline_id = C.one_id(data, "pipeline_id", errors)
    stages = Stage.objects.filter(kind=Stage.Kind.OPEN, pipeline__is_active=True).select_related("pipeline")
    if stage_id:
        stages = stages.filter(pk=stage_id)
    if pipeline_id:
        stages = stages.filter(pipeline_id=pipeline_id)
    stage = stages.order_by("pipeline__position", "pipeline_id", "position").first()
    if stage is None and not errors:
        C.add(errors, "stage_id" if stage_id else "pipeline_id", _("No such open stage in an active pipeline."))
    if errors:
        raise InvalidInput(errors)
    assert stage is not None
    return stage


# --- deals ----------------------------------------------------------------------------------


def deal_create(*, actor: Actor, data: dict[str, Any]) -> Deal:
    perms.require(actor, "deal", perms.CREATE)
    stage = _start_stage(data)
    deal = Deal(pipeline=stage.pipeline, stage=stage, owner=actor.user)
    values = _deal_values(actor, deal, data)
    contact_ids = values.pop("contact_ids", [])
    for key, value in values.items():
        setattr(deal, key, value)
    if deal.currency != HOME_CURRENCY and "rate" not in values:
        raise InvalidInput({"rate": [_("A deal in another currency needs its rate to VND.")]})
    if deal.primary_contact_id and deal.primary_contact_id not in contact_ids:
        contact_ids.insert(0, deal.primary_contact_id)
    _valued(deal)
    now = timezone.now()
    deal.created_at = deal.updated_at = deal.stage_entered_at = now
    with transaction.atomic():
        deal.save()
        deal.contacts.set(contact_ids)
        DealStageChange.objects.create(
            deal=deal, stage=stage, stage_name=stage.name, entered_at=now, moved_by=actor.user
        )
        changes = diff({}, snapshot(deal, DEAL_FIELDS))
        audit(actor, AuditEvent.Action.CREATE, deal, changes | {"contact_ids": [None, contact_ids]},
              contact_id=deal.primary_contact_id)  # fmt: skip
    return deal


def _check_edit(actor: Actor, deal: Deal, action: str = perms.EDIT) -> None:
    perms.require(actor, "deal", action)
    if actor.user is not None and not Deal.objects.visible_to(actor.user).filter(pk=deal.pk).exists():
        raise NotFound(_("No such deal."))


def deal_update(*, actor: Actor, deal: Deal, data: dict[str, Any]) -> Deal:
    """Change what ``data`` holds; the stage changes only by :func:`deal_move`."""
    _check_edit(actor, deal)
    values = _deal_values(actor, deal, data)
    contact_ids = values.pop("contact_ids", None)
    with transaction.atomic():
        before = snapshot(deal, DEAL_FIELDS)
        for key, value in values.items():
            setattr(deal, key, value)
        _valued(deal)
        changes = diff(before, snapshot(deal, DEAL_FIELDS))
        if contact_ids is not None:
            if deal.primary_contact_id and deal.primary_contact_id not in contact_ids:
                contact_ids.insert(0, deal.primary_contact_id)
            old = sorted(deal.contacts.values_list("pk", flat=True))
            if old != sorted(contact_ids):
                deal.contacts.set(contact_ids)
                changes["contact_ids"] = [old, contact_ids]
        if changes:
            deal.updated_at = timezone.now()
            deal.save()
            audit(actor, AuditEvent.Action.UPDATE, deal, changes, contact_id=deal.primary_contact_id)
    return deal


def deal_delete(*, actor: Actor, deal: Deal) -> None:
    _check_edit(actor, deal, perms.DELETE)
    with transaction.atomic():
        audit(actor, AuditEvent.Action.DELETE, deal, {"title": [deal.title, None]}, contact_id=deal.primary_contact_id)
        deal.delete()


# --- moving through the pipeline ----------------------------------------------------------


def _lost_values(stage: Stage, lost_reason_id: Any, note: Any) -> tuple[LostReason | None, str]:
    """A lost deal needs an active reason from the list and a note; other stages take neither."""
    if stage.kind != Stage.Kind.LOST:
        return None, ""
    errors: C.Errors = {}
    payload = {"lost_reason_id": lost_reason_id, "note": note}
    reason_id = C.one_id(payload, "lost_reason_id", errors)
    reason = LostReason.objects.filter(pk=reason_id, is_active=True).first() if reason_id else None
    if reason is None and not errors:
        C.add(errors, "lost_reason_id", _("Choose why the deal was lost."))
    text = C.long_text(payload, "note", errors)
    if not text and "note" not in errors:
        C.add(errors, "note", _("Say in a note what happened."))
    if errors:
        raise InvalidInput(errors)
    return reason, text


def deal_move(*, actor: Actor, deal: Deal, stage_id: Any, lost_reason_id: Any = None, note: Any = None) -> Deal:
    """Move the deal to another stage of its pipeline. A won or lost stage closes it (lost: with
    a reason and a note) and tells the contacts' timelines; an open stage (re)opens it."""
    _check_edit(actor, deal)
    errors: C.Errors = {}
    sid = C.one_id({"stage_id": stage_id}, "stage_id", errors)
    stage = Stage.objects.filter(pk=sid, pipeline_id=deal.pipeline_id).first() if sid else None
    if stage is None:
        raise InvalidInput(errors or {"stage_id": [_("No such stage in this deal's pipeline.")]})
    reason, text = _lost_values(stage, lost_reason_id, note)
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=deal.pk)
        if locked.stage_id == stage.pk:
            return locked
        _move(actor, locked, stage, reason, text)
    deal.refresh_from_db()
    return deal


def _move(actor: Actor, deal: Deal, stage: Stage, reason: LostReason | None, note: str) -> None:
    now = timezone.now()
    before = snapshot(deal, DEAL_FIELDS)
    DealStageChange.objects.filter(deal=deal, left_at__isnull=True).update(left_at=now)
    change = DealStageChange.objects.create(deal=deal, stage=stage, stage_name=stage.name, entered_at=now,
                                            moved_by=actor.user)  # fmt: skip
    deal.stage, deal.status = stage, stage.kind
    deal.lost_reason, deal.lost_note = reason, note
    deal.closed_at = now if stage.kind != Stage.Kind.OPEN else None
    deal.stage_entered_at = deal.updated_at = now
    deal.save()
    audit(actor, AuditEvent.Action.UPDATE, deal, diff(before, snapshot(deal, DEAL_FIELDS)),
          contact_id=deal.primary_contact_id)  # fmt: skip
    if stage.kind != Stage.Kind.OPEN:
        _closed_events(deal, change)


def _closed_events(deal: Deal, change: DealStageChange) -> None:
    """ "Deal Won" / "Deal Lost" on the timeline of each contact of the deal; the message id names
    this stay in the stage, so storing twice stores once and a deal won again is a new event."""
    won = deal.status == Deal.Status.WON
    properties: dict[str, Any] = {
        "deal_id": deal.pk,
        "deal": deal.title,
        "pipeline": deal.pipeline.name,
        "stage": deal.stage.name,
        "value": float(deal.value_vnd),
        "currency": HOME_CURRENCY,
        "source": deal.source,
        "owner_id": deal.owner_id,
    }
    if not won and deal.lost_reason is not None:
        properties |= {"lost_reason": deal.lost_reason.key, "lost_reason_name": deal.lost_reason.name}
    contact_ids = set(deal.contacts.values_list("pk", flat=True)) | {deal.primary_contact_id} - {None}
    name = WON_EVENT if won else LOST_EVENT
    events = [
        ServerEvent(
            contact_id=cid,
            name=name,
            message_id=f"deal:{deal.pk}:{change.pk}:{cid}",
            properties=properties,
            timestamp=change.entered_at,
        )
        for cid in sorted(c for c in contact_ids if c is not None)
    ]
    server_events_store(source=SOURCE, events=events)


def _end_stage(deal: Deal, kind: str) -> int:
    return Stage.objects.get(pipeline_id=deal.pipeline_id, kind=kind).pk


def deal_win(*, actor: Actor, deal: Deal) -> Deal:
    return deal_move(actor=actor, deal=deal, stage_id=_end_stage(deal, Stage.Kind.WON))


def deal_lose(*, actor: Actor, deal: Deal, lost_reason_id: Any, note: Any) -> Deal:
    return deal_move(
        actor=actor, deal=deal, stage_id=_end_stage(deal, Stage.Kind.LOST), lost_reason_id=lost_reason_id, note=note
    )


# --- product lines --------------------------------------------------------------------------


def _line_values(data: dict[str, Any], line: DealLine) -> dict[str, Any]:
    errors: C.Errors = {}
    out: dict[str, Any] = {}
    product = None
    if "product_id" in data:
        pid = C.one_id(data, "product_id", errors)
        product = Product.objects.filter(pk=pid).first() if pid else None
        if pid and product is None:
            C.add(errors, "product_id", _("No such product."))
        out["product_id"] = product.pk if product else None
    if "name" in data or (not line.pk and product is None):
        out["name"] = C.text(data, "name", errors, most=300)
    elif product is not None and not line.pk:
        out["name"] = (product.name or product.product_id)[:300]
    if "quantity" in data:
        out["quantity"] = C.whole(data, "quantity", errors, low=1, high=1_000_000)
    out.update(_line_price(data, line, product, errors))
    if "discount" in data:
        out["discount"] = C.money(data, "discount", errors)
    if errors:
        raise InvalidInput(errors)
    return out


def _line_price(data: dict[str, Any], line: DealLine, product: Product | None, errors: C.Errors) -> dict[str, Any]:
    """A typed price; else, for a new line of a product, the deal's price list (or the
    contact's applicable one), else the product's list price."""
    if "price" in data:
        return {"price": C.money(data, "price", errors), "price_list_id": None}
    if product is None or line.pk:
        return {}
    price, used = price_for(line.deal, product)
    if price is not None and used is not None:
        return {"price": price, "price_list_id": used.pk}
    return {"price": product.price} if product.price is not None else {}


def _line_check(line: DealLine) -> None:
    if line.total < 0:
        raise InvalidInput({"discount": [_("The discount is larger than the line.")]})


def _revalue(actor: Actor, deal: Deal) -> None:
    """A deal with lines is worth their sum."""
    lines = list(deal.lines.all())
    before = snapshot(deal, ("value", "value_vnd"))
    deal.value = sum((line.total for line in lines), Decimal(0))
    _valued(deal)
    changes = diff(before, snapshot(deal, ("value", "value_vnd")))
    if changes:
        deal.updated_at = timezone.now()
        deal.save(update_fields=["value", "value_vnd", "updated_at"])
        audit(actor, AuditEvent.Action.UPDATE, deal, changes, contact_id=deal.primary_contact_id)


def deal_line_add(*, actor: Actor, deal: Deal, data: dict[str, Any]) -> DealLine:
    _check_edit(actor, deal)
    line = DealLine(deal=deal)
    for key, value in _line_values(data, line).items():
        setattr(line, key, value)
    _line_check(line)
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=deal.pk)
        count = locked.lines.count()
        if count >= MAX_LINES:
            raise InvalidInput({"lines": [_("At most %(n)s lines.") % {"n": MAX_LINES}]})
        line.position = count
        line.save()
        audit(actor, AuditEvent.Action.CREATE, line, diff({}, snapshot(line, LINE_FIELDS)))
        _revalue(actor, locked)
    return line


def deal_line_update(*, actor: Actor, line: DealLine, data: dict[str, Any]) -> DealLine:
    _check_edit(actor, line.deal)
    values = _line_values(data, line)
    before = snapshot(line, LINE_FIELDS)
    for key, value in values.items():
        setattr(line, key, value)
    _line_check(line)
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=line.deal_id)
        line.save()
        audit(actor, AuditEvent.Action.UPDATE, line, diff(before, snapshot(line, LINE_FIELDS)))
        _revalue(actor, locked)
    return line


def deal_line_delete(*, actor: Actor, line: DealLine) -> None:
    _check_edit(actor, line.deal)
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=line.deal_id)
        audit(actor, AuditEvent.Action.DELETE, line, {"name": [line.name, None]})
        line.delete()
        _revalue(actor, locked)
