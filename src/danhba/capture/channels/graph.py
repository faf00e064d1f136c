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

    def post(self, url: str) -> tuple[int | None, bytes, str]:
        """The same for a POST without a body (the parameters are in the URL)."""


class OutboundClient:
    """The real client: ``core.outbound`` (public addresses only, timeouts, capped body)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def get(self, url: str) -> tuple[int | None, bytes, str]:
        return self._call("GET", url)

    def post(self, url: str) -> tuple[int | None, bytes, str]:
        return self._call("POST", url)

    def _call(self, method: str, url: str) -> tuple[int | None, bytes, str]:
        answer = outbound.request(
            method, url, allow_private=bool(getattr(settings, "CAPTURE_GRAPH_ALLOW_PRIVATE", False)),
            timeout=self.timeout, headers={"Accept": "application/json"}, body=b"" if method == "POST" else None,
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


def _base() -> str:
    return str(getattr(settings, "CAPTURE_GRAPH_URL", "https://graph.facebook.com")).rstrip("/")


def _auth(token: str, app_secret: str) -> dict[str, str]:
    params = {"access_token": token}
    if app_secret:
        # Facebook's "appsecret_proof": a stolen token alone cannot call the API for this app.
        params["appsecret_proof"] = hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    return params


@dataclass
class PageCheck:
    """What Facebook says about a connection: the page's name, whether the app now receives
    its leads, or the problem (Facebook's own message)."""

    page_name: str = ""
    subscribed: bool = False
    problem: str = ""


def _json_of(status: int | None, body: bytes, error: str) -> dict[str, object]:
    if status is None:
        raise LeadFetchError(f"the Graph API could not be reached: {error}")
    if status != 200:
        raise LeadFetchError(f"the Graph API answered {status}: {_graph_error(body)}")
    try:
        data = json.loads(body)
    except ValueError:
        raise LeadFetchError("the Graph API answered something that is not JSON") from None
    return data if isinstance(data, dict) else {}


def page_subscribe(client: GraphClient, *, page_id: str, version: str, token: str, app_secret: str) -> PageCheck:
    """Read the page with the token (is it the right one?), then subscribe the app to the
    page's ``leadgen`` field (``POST /{page}/subscribed_apps``), as Facebook's setup asks."""
    if not LEAD_ID.match(page_id) or not VERSION.match(version) or not token:
        return PageCheck(problem="the page id, Graph API version and page access token are all needed")
    base = f"{_base()}/{version}/{page_id}"
    try:
        page = _json_of(*client.get(f"{base}?{urlencode({'fields': 'id,name', **_auth(token, app_secret)})}"))
        params = {"subscribed_fields": "leadgen", **_auth(token, app_secret)}
        done = _json_of(*client.post(f"{base}/subscribed_apps?{urlencode(params)}"))
    except LeadFetchError as exc:
        return PageCheck(problem=str(exc))
    return PageCheck(page_name=str(page.get("name") or "")[:200], subscribed=done.get("success") is True)


def lead_url(*, lead_id: str, version: str, token: str, app_secret: str) -> str:
    params = {"fields": FIELDS, **_auth(token, app_secret)}
    return f"{_base()}/{version}/{lead_id}?{urlencode(params)}"


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
