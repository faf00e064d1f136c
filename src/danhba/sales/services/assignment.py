"""Lead assignment: share contacts out among reps by the rules (round robin that skips absent
reps, or the least loaded first; conditions; capacity per rep), set-based.

:func:`assign` is the one door: new leads (the contact-change hook, a whole import batch at a
time), the workflow step "assign an owner", and a rep who leaves. It evaluates each rule once
for the whole batch (the segments compiler, ``id IN batch``), writes owners through the contacts
writer with one bulk update per rep, keeps an :class:`Assignment` row per contact, and tells each
rep once per batch. The round robin's pointer is the rule row itself, locked
(``select_for_update``) while a batch is shared out: two workers take turns, a restart keeps the
turn."""

from __future__ import annotations

import datetime as dt
import heapq
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from danhba.accounts.models import User
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.ingest.hooks import running_import
from danhba.messaging.transport import connection
from danhba.sales.models import Absence, Assignment, AssignmentRule, Deal, Notification

log = logging.getLogger(__name__)
SYSTEM = Actor.system(via="job")  # audit rows say "system (job)"
# Lifecycle stages past the lead: a contact in one is not an open lead of its owner.
NOT_LEADS = ("customer", "evangelist")


@dataclass
class Plan:
    """Who gets which contact (contact id → user id) and by which rule."""

    owners: dict[int, int] = field(default_factory=dict)
    rules: dict[int, int | None] = field(default_factory=dict)
    unassigned: list[int] = field(default_factory=list)


# --- who is there -------------------------------------------------------------------------------


def absent_ids(user_ids: Iterable[int], now: dt.datetime) -> set[int]:
    """Users away at ``now``: an absence covering it, or marked unavailable on their account."""
    ids = list(user_ids)
    away = set(
        Absence.objects.filter(user_id__in=ids, starts_at__lte=now)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .values_list("user_id", flat=True)
    )
    away |= set(User.objects.filter(pk__in=ids, is_available=False).values_list("pk", flat=True))
    return away


def rule_reps(rule: AssignmentRule) -> list[int]:
    """The rule's reps (its members, else every member of its team) who are active, by id."""
    members = list(rule.members.filter(is_active=True).values_list("pk", flat=True))
    if not members:
        members = list(User.objects.filter(team_id=rule.team_id, is_active=True).values_list("pk", flat=True))
    return sorted(members)


def open_load(user_ids: Sequence[int], load: str) -> dict[int, int]:
    """Each rep's open leads (owned contacts not yet customers) or open deals."""
    if load == AssignmentRule.Load.DEALS:
        deals = Deal.objects.filter(owner_id__in=list(user_ids), status=Deal.Status.OPEN)
        counts = dict(deals.values("owner_id").annotate(n=Count("pk")).order_by().values_list("owner_id", "n"))
    else:
        leads = Contact.objects.filter(owner_id__in=list(user_ids)).exclude(lifecycle_stage__key__in=NOT_LEADS)
        counts = dict(leads.values("owner_id").annotate(n=Count("pk")).order_by().values_list("owner_id", "n"))
    return {uid: counts.get(uid, 0) for uid in user_ids}


# --- sharing out --------------------------------------------------------------------------------


def _matching(rule: AssignmentRule, ids: list[int], now: dt.datetime) -> list[int]:
    if not rule.condition or not rule.condition.get("conditions"):
        return ids
    from danhba.segments.compiler import matching

    met = set(matching(rule.condition, now=now, among=ids).values_list("pk", flat=True))
    return [cid for cid in ids if cid in met]


def _round_robin(rule: AssignmentRule, reps: list[int], loads: dict[int, int], ids: list[int]) -> dict[int, int]:
    """Reps in id order, starting after the pointer; a rep at capacity is passed over."""
    out: dict[int, int] = {}
    start = 0
    if rule.last_user_id in reps:
        start = reps.index(rule.last_user_id) + 1
    turn = start
    for cid in ids:
        for _n in range(len(reps)):
            uid = reps[turn % len(reps)]
            turn += 1
            if rule.capacity is None or loads[uid] < rule.capacity:
                out[cid] = uid
                loads[uid] += 1
                rule.last_user_id = uid
                break
        else:
            break  # everyone is full
    return out


def _workload(rule: AssignmentRule, reps: list[int], loads: dict[int, int], ids: list[int]) -> dict[int, int]:
    """Each lead to the rep with the fewest open items (ties: the lower id)."""
    heap = [(loads[uid], uid) for uid in reps if rule.capacity is None or loads[uid] < rule.capacity]
    heapq.heapify(heap)
    out: dict[int, int] = {}
    for cid in ids:
        if not heap:
            break
        load, uid = heapq.heappop(heap)
        out[cid] = uid
        loads[uid] = load + 1
        if rule.capacity is None or load + 1 < rule.capacity:
            heapq.heappush(heap, (load + 1, uid))
    return out


def _share(rule: AssignmentRule, ids: list[int], now: dt.datetime, exclude: set[int]) -> dict[int, int]:
    away = exclude
    reps = [uid for uid in rule_reps(rule) if uid not in away]
    reps = [uid for uid in reps if uid not in absent_ids(reps, now)]
    if not reps or not ids:
        return {}
    loads = open_load(reps, rule.load)
    if rule.method == AssignmentRule.Method.WORKLOAD:
        return _workload(rule, reps, loads, ids)
    return _round_robin(rule, reps, loads, ids)


def plan(
    contact_ids: Sequence[int],
    *,
    now: dt.datetime,
    rule_id: int | None = None,
    exclude: Iterable[int] = (),
    dry: bool = False,
) -> Plan:
    """Share contacts out by the active rules in priority order (or one rule): each rule takes
    the contacts its conditions meet among those left. Locks each rule row it uses; call it in a
    transaction, and write the plan in the same one (:func:`assign`). ``dry``: a preview (no
    lock, the pointer stays)."""
    out = Plan()
    left = list(dict.fromkeys(int(c) for c in contact_ids))
    rules = AssignmentRule.objects.filter(is_active=True)
    if rule_id is not None:
        rules = rules.filter(pk=rule_id)
    skip = set(exclude)
    for rule in (rules if dry else rules.select_for_update()).order_by("position", "id"):
        if not left:
            break
        last = rule.last_user_id
        given = _share(rule, _matching(rule, left, now), now, skip)
        if rule.last_user_id != last and not dry:
            AssignmentRule.objects.filter(pk=rule.pk).update(last_user_id=rule.last_user_id)
        for cid, uid in given.items():
            out.owners[cid] = uid
            out.rules[cid] = rule.pk
        left = [cid for cid in left if cid not in given]
    out.unassigned = left
    return out


def assign(
    contact_ids: Sequence[int],
    *,
    now: dt.datetime | None = None,
    via: str = Assignment.Via.NEW_LEAD,
    rule_id: int | None = None,
    user_id: int | None = None,
    keys: Mapping[int, str] | None = None,
    notify: bool = True,
    exclude: Iterable[int] = (),
    actor: Actor = SYSTEM,
) -> Plan:
    """Give contacts an owner: ``user_id`` if named, else by the rules. ``keys`` (contact id →
    a workflow step's key): a contact that already holds an assignment with its key is left
    alone (the step run again). One bulk update per rep, one Assignment row per contact, one
    notice per rep."""
    now = now or timezone.now()
    ids = list(dict.fromkeys(int(c) for c in contact_ids))
    keys = keys or {}
    with transaction.atomic():
        if keys:
            done = set(Assignment.objects.filter(contact_id__in=ids, key__in=set(keys.values())).values_list(
                "contact_id", "key"))  # fmt: skip
            ids = [cid for cid in ids if (cid, keys.get(cid, "")) not in done]
        if user_id is not None:
            result = Plan(owners=dict.fromkeys(ids, user_id), rules=dict.fromkeys(ids))
        else:
            result = plan(ids, now=now, rule_id=rule_id, exclude=exclude)
        write(result, now=now, via=via, keys=keys, notify=notify, actor=actor)
    return result


def write(
    result: Plan, *, now: dt.datetime, via: str, keys: Mapping[int, str] | None = None, notify: bool = True,
    actor: Actor = SYSTEM,
) -> None:  # fmt: skip
    from danhba.contacts.services.contacts import contacts_bulk_update

    if not result.owners:
        return
    previous = dict(Contact.objects.filter(pk__in=list(result.owners)).values_list("pk", "owner_id"))
    by_user: dict[int, list[int]] = defaultdict(list)
    for cid, uid in result.owners.items():
        if cid in previous:
            by_user[uid].append(cid)
    for uid, cids in by_user.items():
        contacts_bulk_update(actor=actor, contact_ids=cids, owner=uid)
    Assignment.objects.bulk_create(
        [
            Assignment(contact_id=cid, user_id=uid, previous_id=previous.get(cid), rule_id=result.rules.get(cid),
                       via=via, key=(keys or {}).get(cid, ""), at=now)
            for cid, uid in result.owners.items() if cid in previous
        ],
        batch_size=2000,
    )  # fmt: skip
    if notify:
        for uid, cids in by_user.items():
            notify_rep(uid, cids, now=now)


def _lead_notice(user: User, count: int, first: int) -> tuple[str, str]:
    """The text and link of a notice to a rep given ``count`` leads (``first`` one of them)."""
    with translation.override(user.language or settings.LANGUAGE_CODE):
        if count == 1:
            contact = Contact.objects.filter(pk=first).first()
            text = _("New lead for you: %(name)s") % {"name": contact.display_name if contact else first}
            return text[:300], reverse("contacts:detail", args=[first])
        text = ngettext("%(n)s new lead for you", "%(n)s new leads for you", count) % {"n": count}
        return text[:300], reverse("contacts:list") + "?owner=me"


def notify_rep(user_id: int, contact_ids: list[int], *, now: dt.datetime) -> None:
    """One in-app notice and one email for a rep given leads (however many in the batch)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or not contact_ids:
        return
    text, url = _lead_notice(user, len(contact_ids), contact_ids[0])
    Notification.objects.create(user=user, text=text, url=url, created_at=now)
    transaction.on_commit(partial(send_email, user.email, text, url))


def _import_key(run_id: int, user_id: int | str) -> str:
    return f"import:{run_id}:{user_id}"


def notice_import_batch(run_id: int, owners: Mapping[int, int], *, now: dt.datetime) -> None:
    """An import's batch gave these leads (contact id → rep): each rep's one notice for the
    import counts them (created by the first batch, its count and text grown by the next, unread
    again); the email goes once, when the import ends (:func:`on_import_finished`). It commits
    with the batch, so an import resumed after a crash counts on from it."""
    by_user: dict[int, list[int]] = defaultdict(list)
    for cid, uid in owners.items():
        by_user[uid].append(cid)
    users = User.objects.in_bulk(list(by_user))
    keys = [_import_key(run_id, uid) for uid in by_user]
    notices = {n.key: n for n in Notification.objects.filter(key__in=keys)}
    for uid, cids in by_user.items():
        user = users.get(uid)
        if user is None:
            continue
        notice = notices.get(_import_key(run_id, uid))
        count = len(cids) + (notice.count if notice else 0)
        text, url = _lead_notice(user, count, cids[0])
        if notice is None:
            Notification.objects.create(
                user=user, key=_import_key(run_id, uid), count=count, text=text, url=url, created_at=now
            )
        else:
            Notification.objects.filter(pk=notice.pk).update(count=count, text=text, url=url, read_at=None)


def on_import_finished(run_id: int) -> None:
    """An import ended: each rep it gave leads gets one email with the total (the notice already
    says it)."""
    notices = Notification.objects.filter(key__startswith=_import_key(run_id, "")).select_related("user")
    for notice in notices:
        send_email(notice.user.email, notice.text, notice.url)


def send_email(to: str, subject: str, url: str, body: str = "") -> None:
    text = f"{body}\n\n{settings.SITE_URL}{url}".strip()
    try:
        EmailMessage(subject=" ".join(subject.split())[:200], body=text, from_email=settings.DEFAULT_FROM_EMAIL,
                     to=[to], connection=connection()).send()  # fmt: skip
    except Exception:  # the in-app notice stands; a mail server that is down is the log's business
        log.exception("notice email to %s failed", to)


def on_contacts_changed(change: Any) -> None:
    """New contacts without an owner get one by the rules, the whole write's batch at once
    (an import's batch is one call)."""
    if not change.created or not AssignmentRule.objects.filter(is_active=True).exists():
        return
    ids = list(Contact.objects.filter(pk__in=list(change.created), owner__isnull=True).values_list("pk", flat=True))
    if not ids:
        return
    run_id = running_import()
    if run_id is None:
        assign(ids, via=Assignment.Via.NEW_LEAD)
        return
    # An import's batch: one notice per rep for the whole import, not one per batch.
    now = timezone.now()
    result = assign(ids, now=now, via=Assignment.Via.NEW_LEAD, notify=False)
    notice_import_batch(run_id, result.owners, now=now)
