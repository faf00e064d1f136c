"""The review queue in a real browser: a marketer opens the queue, opens the pair, sees the
fields side by side and the waterfall, marks it "not a duplicate" (the pair leaves the queue),
and an admin merges another pair into the contact of their choice — no CSP errors."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.core.tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_review_a_pair_in_the_browser(live_server: Any, users: Any, make_contact: Any, page: Any) -> None:
    from playwright.sync_api import expect

    from danhba.contacts.models import Contact
    from danhba.quality.models import DuplicatePair
    from danhba.quality.services.duplicates import pairs_check

    make_contact(full_name="Lê Thị Hồng", phones=["0903 111 222"], birthday="1992-08-15", province="Đà Nẵng")
    b = make_contact(full_name="Hồng Lê Thị", phones=["0903 111 222"], birthday="1992-08-15", province="Đà Nẵng")
    c = make_contact(full_name="Trần Văn Bình", phones=["0911 555 666"], birthday="1980-03-02", province="Huế")
    d = make_contact(full_name="Tran Van Binh", phones=["0911 555 666"], birthday="1980-02-03", province="Huế")
    pairs_check([b.pk, d.pk])
    first, second = DuplicatePair.objects.order_by("contact_a_id")
    base = live_server.url

    log_in(page, base, users["marketing"].email)
    page.goto(f"{base}/quality/duplicates/")
    page.click(f"a[href='/quality/duplicates/{first.pk}/']")
    expect(page.locator("svg.waterfall")).to_be_visible()
    expect(page.locator(".dup-compare")).to_contain_text("same words in another order")
    page.click("text=Not a duplicate")
    page.wait_for_url(f"{base}/quality/duplicates/")
    expect(page.locator(f"a[href='/quality/duplicates/{first.pk}/']")).to_have_count(0)
    assert page.evaluate("() => window.__csp || []") == []

    page.context.clear_cookies()
    log_in(page, base, users["admin"].email)
    page.goto(f"{base}/quality/duplicates/{second.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"button:has-text('Merge into {c.full_name}')")
    page.wait_for_url(f"{base}/quality/duplicates/")
    assert list(Contact.objects.filter(pk__in=[c.pk, d.pk]).values_list("pk", flat=True)) == [c.pk]
    assert page.evaluate("() => window.__csp || []") == []


def test_merge_selected_pairs_in_the_browser(live_server: Any, users: Any, make_contact: Any, page: Any) -> None:
    from playwright.sync_api import expect

    from danhba.quality.models import BulkMerge, DuplicatePair

    a, b = make_contact(full_name="Phạm Minh Tuấn"), make_contact(full_name="Pham Minh Tuan")
    c, d = make_contact(full_name="Đỗ Thu Hà"), make_contact(full_name="Do Thu Ha")
    first = DuplicatePair.objects.create(contact_a=a, contact_b=b, probability=0.99, match_weight=9.0)
    DuplicatePair.objects.create(contact_a=c, contact_b=d, probability=0.91, match_weight=4.0)
    base = live_server.url

    log_in(page, base, users["admin"].email)
    page.goto(f"{base}/quality/duplicates/")
    page.check(f"input[name='pair'][value='{first.pk}']")
    page.click("button:has-text('Merge selected')")
    expect(page.locator("#bulk-merge-counts dd")).to_have_text(["1", "1", "1"])  # pairs, merges, merged away
    expect(page.locator("main")).to_contain_text("Pham Minh Tuan")
    expect(page.locator("main")).not_to_contain_text("Do Thu Ha")
    page.click("button:has-text('Run 1 merge')")
    job = BulkMerge.objects.get()
    page.wait_for_url(f"{base}/quality/bulk-merges/{job.pk}/")
    assert job.groups == [{"survivor": a.pk, "others": [b.pk]}]
    assert page.evaluate("() => window.__csp || []") == []
