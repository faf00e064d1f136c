"""Shared helpers of the channel tests: connections, signed requests and a fake Graph API."""

from __future__ import annotations

import json
from typing import Any

from danhba.capture.channels import services
from danhba.capture.channels.signatures import facebook_signature, zalo_signature
from danhba.capture.models import ChannelConnection
from danhba.core.actor import Actor

PAGE_ID = "104725612345678"
OA_ID = "2915720151871123456"
ZALO_APP = "1234567890123456789"
FB_SECRET = "fb-app-secret"
ZALO_SECRET = "zalo-oa-secret"


def facebook_connection(**extra: Any) -> ChannelConnection:
    data = {"name": "Fanpage Hoa Sen", "account_id": PAGE_ID, "secret": FB_SECRET, "verify_token": "vt-123",
            "access_token": "EAAB-page-token", **extra}  # fmt: skip
    return services.connection_create(actor=Actor.system(), kind="facebook", data=data)


def zalo_connection(**extra: Any) -> ChannelConnection:
    data = {"name": "OA Hoa Sen", "account_id": OA_ID, "app_id": ZALO_APP, "secret": ZALO_SECRET, **extra}
    return services.connection_create(actor=Actor.system(), kind="zalo", data=data)


def leadgen_body(*lead_ids: str, page_id: str = PAGE_ID) -> bytes:
    """A Lead Ads webhook as Facebook sends it (one entry, a change per lead)."""
    changes = [
        {"field": "leadgen", "value": {"ad_id": "23851", "form_id": "44455566", "leadgen_id": lead_id,
                                       "created_time": 1765000000, "page_id": page_id, "adgroup_id": "23851"}}
        for lead_id in lead_ids
    ]  # fmt: skip
    return json.dumps({"object": "page", "entry": [{"id": page_id, "time": 1765000001, "changes": changes}]}).encode()


def post_facebook(client: Any, connection: ChannelConnection, body: bytes, signature: str | None = "good") -> Any:
    headers = {}
    if signature == "good":
        headers["HTTP_X_HUB_SIGNATURE_256"] = facebook_signature(body, connection.secret)
    elif signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    url = f"/capture/hooks/facebook/{connection.key}/"
    return client.post(url, data=body, content_type="application/json", **headers)


def zalo_body(event: str, user: str = "8449123123", **extra: Any) -> bytes:
    """A Zalo OA webhook as Zalo sends it (the user under "follower" or "sender")."""
    data: dict[str, Any] = {"app_id": ZALO_APP, "oa_id": OA_ID, "user_id_by_app": "55512", "event_name": event,
                            "timestamp": "1765000000123"}  # fmt: skip
    if event in ("follow", "unfollow"):
        data |= {"follower": {"id": user}, "source": "oa_profile"}
    else:
        data |= {"sender": {"id": user}, "recipient": {"id": OA_ID}}
    data.update(extra)
    return json.dumps(data, ensure_ascii=False).encode()


def post_zalo(client: Any, connection: ChannelConnection, body: bytes, signature: str | None = "good") -> Any:
    headers = {}
    if signature == "good":
        timestamp = json.loads(body)["timestamp"]
        headers["HTTP_X_ZEVENT_SIGNATURE"] = zalo_signature(body, connection.app_id, timestamp, connection.secret)
    elif signature is not None:
        headers["HTTP_X_ZEVENT_SIGNATURE"] = signature
    return client.post(f"/capture/hooks/zalo/{connection.key}/", data=body, content_type="application/json", **headers)


class FakeGraph:
    """The Graph API as a dictionary of leads; records the URLs asked."""

    def __init__(self, leads: dict[str, dict[str, Any]] | None = None, status: int = 200) -> None:
        self.leads = leads or {}
        self.status = status
        self.urls: list[str] = []

    def post(self, url: str) -> tuple[int | None, bytes, str]:
        self.urls.append("POST " + url)
        if self.status != 200:
            return self.status, json.dumps({"error": {"message": "Invalid OAuth access token."}}).encode(), ""
        return 200, b'{"success": true}', ""

    def get(self, url: str) -> tuple[int | None, bytes, str]:
        self.urls.append(url)
        if self.status != 200:
            return self.status, json.dumps({"error": {"message": "Service temporarily unavailable"}}).encode(), ""
        lead_id = url.split("?")[0].rsplit("/", 1)[1]
        if lead_id == PAGE_ID:
            return 200, json.dumps({"id": PAGE_ID, "name": "Hoa Sen Spa"}).encode(), ""
        if lead_id not in self.leads:
            return 404, json.dumps({"error": {"message": "Unsupported get request"}}).encode(), ""
        fields = [{"name": k, "values": [v]} for k, v in self.leads[lead_id].items()]
        body = {"id": lead_id, "created_time": "2026-12-06T08:49:14+0000", "form_id": "44455566", "field_data": fields}
        return 200, json.dumps(body).encode(), ""
