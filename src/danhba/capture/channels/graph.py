"""Reading a lead from Facebook's Graph API (``GET /{version}/{leadgen_id}`` with the page
access token). The HTTP client is an argument: tests hand in a fake or point
``CAPTURE_GRAPH_URL`` at a local server, and nothing here needs the network to be imported."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode

from django.conf import settings

from danhba.core import outbound

LEAD_ID = re.compile(r"^[0-9]{1,40}$")
VERSION = re.compile(r"^v[0-9]{1,2}\.[0-9]{1,2}$")
FIELDS = "id,created_time,field_data,custom_disclaimer_responses,form_id,ad_id,campaign_name,platform"


class GraphClient(Protocol):
    def get(self, url: str) -> tuple[int | None, bytes, str]:
        """(status, body, error): status None and an error text when nothing came back."""


class OutboundClient:
    """The real client: ``core.outbound`` (public addresses only, timeouts, capped body)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def get(self, url: str) -> tuple[int | None, bytes, str]:
        answer = outbound.request(
            "GET", url, allow_private=bool(getattr(settings, "CAPTURE_GRAPH_ALLOW_PRIVATE", False)),
            timeout=self.timeout, headers={"Accept": "application/json"},
        )  # fmt: skip
        error = str(answer.error) if answer.error is not None else ""
        return answer.status, answer.body, error


def default_client() -> GraphClient:
    return OutboundClient()


class LeadFetchError(Exception):
    """The lead could not be read; the message says why (shown with the failed payload)."""


@dataclass
class Lead:
    lead_id: str
    created_time: str = ""
    form_id: str = ""
    ad_id: str = ""
    campaign: str = ""
    fields: dict[str, str] = field(default_factory=dict)


def lead_url(*, lead_id: str, version: str, token: str, app_secret: str) -> str:
    base = str(getattr(settings, "CAPTURE_GRAPH_URL", "https://graph.facebook.com")).rstrip("/")
    params = {"fields": FIELDS, "access_token": token}
    if app_secret:
        # Facebook's "appsecret_proof": a stolen token alone cannot call the API for this app.
        params["appsecret_proof"] = hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    return f"{base}/{version}/{lead_id}?{urlencode(params)}"


def _text(values: object) -> str:
    if isinstance(values, list):
        return ", ".join(str(v) for v in values if v is not None and str(v).strip())
    return "" if values is None else str(values)


def parse_lead(lead_id: str, body: bytes) -> Lead:
    try:
        data = json.loads(body)
    except ValueError:
        raise LeadFetchError("the Graph API answered something that is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("field_data", []), list):
        raise LeadFetchError("the Graph API answered an unexpected shape")
    fields: dict[str, str] = {}
    for item in data.get("field_data") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            fields[item["name"][:100]] = _text(item.get("values"))[:2000]
    # The form's own consent boxes ("custom disclaimer"): checkbox key → "1" when ticked.
    for item in data.get("custom_disclaimer_responses") or []:
        if isinstance(item, dict) and isinstance(item.get("checkbox_key"), str):
            fields[item["checkbox_key"][:100]] = "1" if str(item.get("is_checked")) in ("1", "true", "True") else ""
    return Lead(
        lead_id=lead_id, created_time=str(data.get("created_time") or ""), form_id=str(data.get("form_id") or ""),
        ad_id=str(data.get("ad_id") or ""), campaign=str(data.get("campaign_name") or ""), fields=fields,
    )  # fmt: skip


def lead_fetch(client: GraphClient, *, lead_id: str, version: str, token: str, app_secret: str) -> Lead:
    if not LEAD_ID.match(lead_id):
        raise LeadFetchError(f"not a leadgen id: {lead_id[:60]!r}")
    if not VERSION.match(version):
        raise LeadFetchError(f"not a Graph API version: {version[:20]!r}")
    if not token:
        raise LeadFetchError("the connection has no page access token")
    status, body, error = client.get(lead_url(lead_id=lead_id, version=version, token=token, app_secret=app_secret))
    if status is None:
        raise LeadFetchError(f"the Graph API could not be reached: {error}")
    if status != 200:
        raise LeadFetchError(f"the Graph API answered {status}: {_graph_error(body)}")
    return parse_lead(lead_id, body)


def _graph_error(body: bytes) -> str:
    try:
        data = json.loads(body)
        message = data["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body[:200].decode("utf-8", "replace")
    return str(message)[:300]
