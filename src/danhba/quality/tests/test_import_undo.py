"""Undoing an import keeps the contacts it created that other contacts were merged into since:
deleting a survivor would take the merged-away contacts' orders with it, and the merge could no
longer be undone (contacts.extensions.CONTACTS_KEPT_ON_UNDO, filled by quality)."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.ingest import services
from danhba.ingest.models import Import
from danhba.orders.models import Order
from danhba.quality.services.merge import merge_contacts, undo_merge

pytestmark = pytest.mark.django_db

ROWS = "Họ và tên,Email\nPhạm Dũng,dung@example.vn\nVõ Em,em@example.vn\n"


def run_import(admin: Any) -> Import:
    actor = actor_for(admin, via="cli")
    run = services.import_create(actor=actor, file=ROWS.encode(), file_name="khach.csv")
    run = services.import_configure(actor=actor, run=run, source="import", consent_proof="phiếu")
    services.import_start(actor=actor, run=run, enqueue=False)
    return services.import_execute(run.pk, via="cli")


def test_undoing_an_import_keeps_a_merge_survivor_and_what_was_merged_into_it(
    admin: Any, make_contact: Any, client_for: Any
) -> None:
    old = make_contact(full_name="Phạm Văn Dũng", emails=["dung.old@example.vn"])
    order = Order.objects.create(order_id="DH-5", contact=old, placed_at=timezone.now(), total=500000)
    run = run_import(admin)
    created = Contact.objects.get(emails__email="dung@example.vn")
    merge = merge_contacts(actor_for(admin), created, [old])

    services.import_undo(actor=actor_for(admin), run=run, enqueue=False)
    run = services.undo_execute(run.pk)

    assert run.status == Import.Status.UNDONE
    assert Contact.objects.filter(pk=created.pk).exists()  # the survivor stays…
    assert Order.objects.get(pk=order.pk).contact_id == created.pk  # …with the order merged into it
    assert not Contact.objects.filter(emails__email="em@example.vn").exists()  # the other one goes
    assert run.options["undo_report"] == {"deleted": 1, "restored": 0, "kept": 0, "kept_merged": 1}
    html = unescape(client_for(admin).get(reverse("ingest:detail", args=[run.pk])).content.decode())
    assert "1 contact was kept because other contacts were merged into it" in html

    # The merge can still be undone: the old contact comes back with its order.
    undo_merge(actor_for(admin), merge)
    assert Order.objects.get(pk=order.pk).contact_id == old.pk

    admin.language = "vi"
    admin.save(update_fields=["language"])
    html = unescape(client_for(admin).get(reverse("ingest:detail", args=[run.pk])).content.decode())
    assert "1 liên hệ được giữ lại vì có liên hệ khác đã được gộp vào" in html
