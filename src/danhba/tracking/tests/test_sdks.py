"""The real Segment and RudderStack Python SDKs, pointed at a live danhba, as a customer's
backend would use them: events arrive, retries never double, identify joins contacts, and a
wrong key is reported to the SDK as a 401 it can read."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rudderstack.analytics import Client as RudderClient
from rudderstack.analytics import request as rudder_request
from rudderstack.analytics.request import APIError as RudderAPIError
from segment.analytics import Client as SegmentClient
from segment.analytics import request as segment_request
from segment.analytics.request import APIError as SegmentAPIError

from danhba.contacts.models import ExternalId
from danhba.tracking.models import Event

live = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def segment(live_server: Any, key: str, *, gzip: bool, **options: Any) -> Any:
    return SegmentClient(write_key=key, host=live_server.url, gzip=gzip, max_retries=0, **options)


def rudder(live_server: Any, key: str, *, gzip: bool, **options: Any) -> Any:
    return RudderClient(write_key=key, host=live_server.url, gzip=gzip, max_retries=0, **options)


SDKS: dict[str, Callable[..., Any]] = {"segment": segment, "rudderstack": rudder}


@pytest.fixture(autouse=True)
def _close_sdk_connections(live_server: Any) -> Iterator[None]:
    """The SDKs keep one module-level HTTP session alive; close it before the live server
    stops, or its request thread dies noisily on a half-open keep-alive connection."""
    yield
    segment_request._session.close()
    rudder_request._session.close()


@live
@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("sdk", list(SDKS))
def test_sdk_events_land_and_join_the_contact(live_server: Any, write_key: str, sdk: str, gzip: bool) -> None:
    client = SDKS[sdk](live_server, write_key, gzip=gzip, sync_mode=True)
    device = f"device-{uuid.uuid4()}"
    client.page(anonymous_id=device, name="Trang chủ", properties={"url": "https://shop.vn/"})
    client.track(anonymous_id=device, event="Product Viewed", properties={"sku": "ÁO-01", "price": 250000})
    client.identify(
        user_id=f"{sdk}-user", anonymous_id=device, traits={"email": f"{sdk}@example.vn", "name": "Ngô Mai"}
    )
    client.track(user_id=f"{sdk}-user", event="Order Completed", properties={"total": 250000})
    client.group(user_id=f"{sdk}-user", group_id="acme", traits={"name": "ACME"})
    client.alias(previous_id=f"{sdk}-user", user_id=f"{sdk}-user-2")
    client.screen(user_id=f"{sdk}-user-2", name="Cart")

    contact = ExternalId.objects.get(system="segment", value=f"{sdk}-user").contact
    assert contact.email == f"{sdk}@example.vn"
    assert contact.full_name == "Ngô Mai"
    assert ExternalId.objects.get(system="segment", value=f"{sdk}-user-2").contact == contact
    events = Event.objects.filter(contact=contact).order_by("id")
    assert [e.type for e in events] == ["page", "track", "identify", "track", "group", "alias", "screen"]
    assert events[1].properties == {"sku": "ÁO-01", "price": 250000}
    assert events[0].context["library"]["name"] == "analytics-python"


@live
@pytest.mark.parametrize("sdk", list(SDKS))
def test_sdk_retry_with_the_same_message_id_is_stored_once(live_server: Any, write_key: str, sdk: str) -> None:
    client = SDKS[sdk](live_server, write_key, gzip=True, sync_mode=True)
    for _attempt in range(3):
        client.track(user_id="u-retry", event="Paid", message_id="pay-123", properties={"amount": 1})
    assert Event.objects.filter(message_id="pay-123").count() == 1


@live
@pytest.mark.parametrize("sdk", list(SDKS))
def test_sdk_sees_a_wrong_key_as_a_401(live_server: Any, write_key: str, sdk: str) -> None:
    client = SDKS[sdk](live_server, "dbw_not-a-key", gzip=False, sync_mode=True)
    with pytest.raises((SegmentAPIError, RudderAPIError)) as caught:
        client.track(user_id="u", event="x")
    assert caught.value.status == 401
    assert caught.value.code == "unauthorized"
    assert not Event.objects.exists()


@live
@pytest.mark.parametrize("sdk", list(SDKS))
def test_sdk_background_batches_are_flushed_completely(live_server: Any, write_key: str, sdk: str) -> None:
    errors: list[Any] = []
    client = SDKS[sdk](
        live_server, write_key, gzip=True, upload_size=50, upload_interval=0.05,
        on_error=lambda exc, batch: errors.append(exc),
    )  # fmt: skip
    for i in range(120):
        client.track(anonymous_id=f"visitor-{i % 7}", event="Scrolled", properties={"i": i})
    client.flush()
    client.join()
    assert errors == []
    assert Event.objects.filter(name="Scrolled").count() == 120
