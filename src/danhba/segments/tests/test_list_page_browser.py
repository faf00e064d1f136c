"""A static list's page after adding members from pasted lines: the size and the member table
show them at once, without a reload (they went stale: "4 contacts added. The list has 4
members." beside "0 members" and "No members you can see.")."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from danhba.conftest import actor_for
from danhba.core.tests.browser import Problems, chromium, log_in, settle
from danhba.segments import services
from danhba.segments.models import Segment


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_adding_pasted_lines_refreshes_the_size_and_the_members(
    live_server: Any, admin: Any, make_contact: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    names = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung"]
    for n, name in enumerate(names):
        make_contact(full_name=name, emails=[{"email": f"khach{n}@example.vn"}])
    guests = services.segment_create(actor=actor_for(admin), name="Khách mời", kind=Segment.Kind.STATIC)
    with chromium(monkeypatch) as ctx:
        page = ctx.new_page()
        problems = Problems(page)
        log_in(page, live_server.url, admin.email)
        page.goto(live_server.url + reverse("segments:detail", args=[guests.pk]))
        expect(page.locator("#member-count")).to_have_text("0")
        expect(page.locator("#members")).to_contain_text("No members you can see.")
        page.evaluate("window.__samePage = true")
        page.fill("#import-form textarea[name=text]", "\n".join(f"khach{n}@example.vn" for n in range(4)))
        page.locator("#import-form").get_by_role("button", name="Add to the list").click()
        expect(page.locator("#import-added")).to_contain_text("4 contacts added.")
        settle(page)
        expect(page.locator("#member-count")).to_have_text("4")
        for name in names:
            expect(page.locator("#members")).to_contain_text(name)
        expect(page.locator("#members")).not_to_contain_text("No members you can see.")
        assert page.evaluate("window.__samePage") is True
        assert problems.take() == []
