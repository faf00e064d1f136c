"""What browsers and mail clients use: the tracking script, CORS on the event API, the pixel,
and the copy-paste snippet under Settings → Event sources."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from danhba.core.ratelimit import PublicLimit
from danhba.tracking.models import Event, Source
from danhba.tracking.views import browser as browser_views
from danhba.tracking.views.browser import PIXEL

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(browser_views, "pixel_rate", PublicLimit("pixel", browser_views.PIXEL_RATE_PER_MINUTE))
    yield


def pixel(client: Any, **params: str) -> Any:
    return client.get("/v1/pixel.gif?" + urlencode(params))


def assert_gif(response: Any) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content == PIXEL and response.content.startswith(b"GIF89a")
    assert "no-store" in response["Cache-Control"] and "no-cache" in response["Cache-Control"]


# --- the pixel ------------------------------------------------------------------------------


def test_pixel_records_a_track_event_from_an_email(client: Any, write_key: str) -> None:
    response = pixel(
        client,
        writeKey=write_key,
        event="Email Opened",
        userId="u-42",
        properties=json.dumps({"campaign": "Tết 2027", "step": 2}),
        messageId="open-1",
    )
    assert_gif(response)
    event = Event.objects.get()
    assert (event.type, event.name, event.user_id, event.message_id) == ("track", "Email Opened", "u-42", "open-1")
    assert event.properties == {"campaign": "Tết 2027", "step": 2}
    assert event.context["library"]["name"] == "danhba-pixel"


def test_pixel_without_an_event_is_a_page_view(client: Any, write_key: str) -> None:
    assert_gif(pixel(client, writeKey=write_key, anonymousId="amp-visitor", name="AMP article"))
    event = Event.objects.get()
    assert (event.type, event.name, event.anonymous_id) == ("page", "AMP article", "amp-visitor")


def test_a_pixel_loaded_again_with_its_message_id_counts_once(client: Any, write_key: str) -> None:
    for _ in range(3):
        assert_gif(pixel(client, writeKey=write_key, event="Email Opened", userId="u-1", messageId="m-1"))
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"writeKey": "dbw_not-a-key", "event": "Email Opened", "userId": "u"},
        {"event": "Email Opened", "userId": "u"},
        {"event": "Email Opened"},  # no id
        {"event": "Email Opened", "userId": "u", "properties": "{not json"},
        {"event": "Email Opened", "userId": "u", "properties": "[1, 2]"},
        {"event": "Email Opened", "userId": "u", "properties": '{"x": NaN}'},
        {"event": "Email Opened", "userId": "u", "properties": '{"x": 1e999}'},
        {"event": "Email Opened", "userId": "u\x00"},
        {"event": "Email Opened", "userId": "u", "type": "identify"},
        {"event": "Email Opened", "userId": "u", "timestamp": "yesterday"},
        {"event": "Email Opened", "userId": "x" * 500},
        {"event": "Email Opened", "userId": "u", "properties": "[" * 100_000},
    ],
    ids=[
        "nothing", "wrong-key", "no-key", "no-id", "bad-json", "not-an-object", "nan", "infinity", "nul",
        "identify", "bad-time", "long-id", "deep",
    ],
)  # fmt: skip
def test_bad_pixels_still_answer_the_gif_and_store_nothing(client: Any, write_key: str, params: dict[str, str]) -> None:
    if params and "writeKey" not in params and params != {"event": "Email Opened", "userId": "u"}:
        params = {"writeKey": write_key, **params}
    assert_gif(pixel(client, **params))
    assert Event.objects.count() == 0


def test_pixel_never_tells_a_disabled_key_from_a_valid_one(client: Any, make_source: Any) -> None:
    source, key = make_source("Newsletter")
    valid = pixel(client, writeKey=key, event="Email Opened", userId="u")
    Source.objects.filter(pk=source.pk).update(disabled_at=source.created_at)
    disabled = pixel(client, writeKey=key, event="Email Opened", userId="u", messageId="later")
    assert_gif(valid)
    assert_gif(disabled)
    assert dict(valid.headers) == dict(disabled.headers)
    assert Event.objects.count() == 1


def test_pixel_properties_with_nul_escapes_are_stored_cleaned(client: Any, write_key: str) -> None:
    assert_gif(pixel(client, writeKey=write_key, event="Opened", userId="u", properties='{"a": "x\\u0000y\\ud800"}'))
    assert Event.objects.get().properties["a"].startswith("xy")


def test_pixel_flood_from_one_address_stops_storing_but_still_answers(
    client: Any, write_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browser_views, "pixel_rate", PublicLimit("pixel", 3))
    for i in range(5):
        assert_gif(pixel(client, writeKey=write_key, event="Opened", userId="u", messageId=f"m{i}"))
    assert Event.objects.count() == 3


def test_head_and_post_on_the_pixel_store_nothing(client: Any, write_key: str) -> None:
    query = "/v1/pixel.gif?" + urlencode({"writeKey": write_key, "event": "Opened", "userId": "u"})
    assert client.head(query).status_code == 200
    assert client.post(query).status_code == 405
    assert Event.objects.count() == 0


# --- CORS and browser bodies ----------------------------------------------------------------


def test_preflight_allows_any_site_to_post_with_the_sdk_headers(client: Any) -> None:
    response = client.options(
        "/v1/batch",
        HTTP_ORIGIN="https://shop.example.vn",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,authorization",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "authorization", "content-encoding"} <= allowed
    assert "Access-Control-Allow-Credentials" not in response
    assert Event.objects.count() == 0


def test_a_text_plain_post_from_a_browser_is_read_as_json_and_readable_cross_origin(
    client: Any, write_key: str
) -> None:
    """What danhba.js and navigator.sendBeacon send: a "simple" request, no preflight."""
    body = {
        "writeKey": write_key,
        "sentAt": "2026-11-23T07:00:00Z",
        "batch": [{"type": "page", "anonymousId": "a-1", "messageId": "p-1", "properties": {"path": "/"}}],
    }
    response = client.post(
        "/v1/batch", json.dumps(body), content_type="text/plain;charset=UTF-8", HTTP_ORIGIN="https://shop.example.vn"
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert response["Access-Control-Allow-Origin"] == "*"
    assert Event.objects.get().message_id == "p-1"


def test_errors_are_readable_cross_origin_too(client: Any) -> None:
    body = json.dumps({"writeKey": "dbw_wrong", "userId": "u", "event": "x"})
    response = client.post("/v1/track", body, content_type="text/plain", HTTP_ORIGIN="https://shop.example.vn")
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"
    assert response["Access-Control-Allow-Origin"] == "*"


# --- the script and the snippet -------------------------------------------------------------


def test_the_script_is_served_cacheable_to_any_site(client: Any) -> None:
    response = client.get("/v1/danhba.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "public" in response["Cache-Control"] and "max-age=" in response["Cache-Control"]
    assert response["Access-Control-Allow-Origin"] == "*"
    text = response.content.decode()
    assert "danhba_aid" in text and "/v1/batch" in text and "keepalive" in text


def test_creating_a_website_source_shows_the_snippet_with_its_key_once(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    created = client.post("/settings/sources/new/", {"name": "Shop website", "kind": "website"})
    assert created.status_code == 200
    raw = re.search(rb'id="new-write-key">([^<]+)<', created.content).group(1).decode()  # type: ignore[union-attr]
    snippet = re.search(rb'id="new-snippet">([^<]+)<', created.content).group(1).decode()  # type: ignore[union-attr]
    assert "http://testserver/v1/danhba.js" in snippet and f"data-write-key=&quot;{raw}&quot;" in snippet
    assert b"Install on your website" in created.content

    listed = client.get("/settings/sources/").content
    assert raw.encode() not in listed  # the key is still shown only once
    assert b"Install on your website" in listed and b"YOUR_WRITE_KEY" in listed
    assert Source.objects.get(name="Shop website").key_prefix.encode() in listed


def test_a_server_source_gets_no_website_snippet(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    created = client.post("/settings/sources/new/", {"name": "Backend", "kind": "server"})
    assert b'id="new-write-key"' in created.content and b'id="new-snippet"' not in created.content
    assert b"Install on your website" not in client.get("/settings/sources/").content
