"""Installing a playbook (``automation/playbooks/``): its emails as templates (messaging's
writer), the tags it uses (contacts' writer), and a DRAFT workflow whose email steps name those
templates — published by ``workflow_create`` like any workflow, so the graph is checked by the
same schema and each email step gets its automated campaign. Installing twice makes a second
copy under a distinct name. One transaction: a playbook that does not check leaves nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.automation.models import Workflow
from danhba.automation.playbooks import playbook
from danhba.automation.selectors import playbook_context
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied

MAX_COPIES = 200


@dataclass
class Installed:
    workflow: Workflow
    templates: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def _free_name(base: str, taken: Any) -> str:
    """``base``, or ``base (2)``, ``base (3)``… the first no row holds."""
    if not taken(base):
        return base
    for n in range(2, MAX_COPIES + 2):
        name = f"{base} ({n})"
        if not taken(name):
            return name
    raise Conflict(_("There are too many copies of this playbook already."))


def _with_templates(node: Any, ids: dict[str, int]) -> Any:
    """The graph with every ``"template": "@key"`` replaced by the template made for it."""
    if isinstance(node, dict):
        return {
            k: ids[v[1:]] if k == "template" and isinstance(v, str) and v.startswith("@") else _with_templates(v, ids)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_with_templates(v, ids) for v in node]
    return node


def _make_tags(actor: Actor, names: list[str]) -> list[str]:
    from danhba.contacts.keys import tag_key
    from danhba.contacts.models import Tag
    from danhba.contacts.services.tags import tag_save

    made = []
    for name in names:
        if Tag.objects.filter(name_key=tag_key(name)).exists():
            continue
        try:
            tag_save(actor=actor, tag=None, name=name)
        except PermissionDenied:
            continue  # the tag step creates it when it first runs
        made.append(name)
    return made


def playbook_install(*, actor: Actor, key: str, options: dict[str, Any] | None = None) -> Installed:
    """Install the playbook ``key``: a DRAFT workflow to review and activate."""
    perms.require(actor, "workflow", perms.CREATE)
    book = playbook(key)
    if book is None:
        raise NotFound(_("No such playbook."))
    options = options or {}
    unknown = sorted(set(options) - {"score_model"})
    if unknown:
        raise InvalidInput({name: [_("unknown field")] for name in unknown})
    ctx = playbook_context(score_model=options.get("score_model"))
    missing = book.missing(ctx)
    if missing:
        raise Conflict(missing)
    if book.emails:
        perms.require(actor, "email", perms.CREATE)
    from danhba.automation.services.workflows import workflow_create
    from danhba.messaging.models import EmailTemplate
    from danhba.messaging.services.templates import template_create

    with transaction.atomic():
        name = _free_name(str(book.name), lambda n: Workflow.objects.filter(name=n).exists())
        ids: dict[str, int] = {}
        for email_key, mail in book.emails.items():
            title = _free_name(f"{mail.title} · {name}"[:190], lambda n: EmailTemplate.objects.filter(name=n).exists())
            template = template_create(
                actor=actor,
                data={"name": title, "subject": mail.subject, "preheader": mail.preheader, "body": mail.body},
            )
            ids[email_key] = template.pk
        tags = _make_tags(actor, [*book.tags, *book.extra_tags(ctx)])
        workflow = workflow_create(
            actor=actor,
            data={
                "name": name, "description": str(book.description), "trigger": book.trigger(ctx),
                "reenrol": book.reenrol, "window": book.window, "graph": _with_templates(book.graph(ctx), ids),
            },
        )  # fmt: skip
    return Installed(workflow=workflow, templates=list(ids.values()), tags=tags)
