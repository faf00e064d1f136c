"""Fixtures of the event API tests: a source with its raw write key, and a poster that speaks
the wire format the SDKs use (Basic auth with the write key, optional gzip)."""

from __future__ import annotations

import base64
import gzip as gzip_lib
import json
from collections.abc import Callable
from typing import Any

import pytest

from danhba.core.actor import Actor


@pytest.fixture
def make_source(db: Any) -> Callable[..., tuple[Any, str]]:
    from danhba.tracking.services.sources import source_create

    def make(name: str = "Website", kind: str = "website") -> tuple[Any, str]:
        return source_create(actor=Actor.system("cli"), name=name, kind=kind)

    return make


@pytest.fixture
def write_key(make_source: Callable[..., tuple[Any, str]]) -> str:
    return make_source()[1]


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.fixture
def post(client: Any, write_key: str) -> Callable[..., Any]:
    """``post(path, body)``: body is a dict (sent as JSON), or bytes sent as they are."""

    def send(
        path: str, body: Any, *, key: str | None = write_key, gzip: bool = False, headers: dict[str, str] | None = None
    ) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        extra: dict[str, str] = {}
        if key is not None:
            extra["HTTP_AUTHORIZATION"] = basic(key)
        if gzip:
            data = gzip_lib.compress(data)
            extra["HTTP_CONTENT_ENCODING"] = "gzip"
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        return client.generic("POST", path, data, content_type="application/json", **extra)

    return send
