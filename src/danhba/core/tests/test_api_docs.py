"""The API's documentation: the OpenAPI document is valid as Swagger UI reads it (no key twice in
any mapping, every schema under a name of its own), and /api/docs shows the operations in a real
browser, with Swagger UI's assets served by danhba itself (the site may have no internet)."""

from __future__ import annotations

import enum
import json
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from danhba.api import api
from danhba.conftest import PASSWORD


class DuplicateKey(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


def strict_loads(text: str | bytes) -> Any:
    """JSON as a YAML parser (Swagger UI's) reads it: a mapping with a key twice is an error.
    Python's json keeps the last one silently."""
    return json.loads(text, object_pairs_hook=_refuse_duplicates)


@pytest.mark.django_db
def test_strict_loads_refuses_a_key_twice() -> None:
    with pytest.raises(DuplicateKey):
        strict_loads('{"responses": {"200": {}, "200": {}}}')


@pytest.mark.django_db
def test_the_served_schema_has_no_key_twice(client: Any, admin: Any) -> None:
    client.force_login(admin)
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = strict_loads(response.content)
    download = schema["paths"]["/api/contacts/exports/{job_id}/download"]["get"]["responses"]["200"]
    assert "text/csv" in download["content"]
    errors_csv = schema["paths"]["/api/imports/{import_id}/errors.csv"]["get"]["responses"]["200"]
    assert list(errors_csv["content"]) == ["text/csv"]


def _types_in(annotation: Any) -> Iterator[type]:
    """The models and enums an annotation refers to (through lists, unions, dicts, Annotated):
    each becomes a named schema."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel | enum.Enum):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _types_in(arg)


def documented_types() -> set[type]:
    """Every pydantic class and enum the API documents: request bodies, query/path parameters
    and responses of every operation, and what is nested in them. Ninja's own wrappers (built
    at run time, in no real module) are walked through but not counted: they are inlined."""
    pending: list[type] = []
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                pending.extend(operation.models)
                pending.extend(m for m in operation.response_models.values() if m is not None)
    found: set[type] = set()
    while pending:
        kind = pending.pop()
        if kind in found:
            continue
        found.add(kind)
        if issubclass(kind, BaseModel):
            for field in kind.model_fields.values():
                pending.extend(_types_in(field.annotation))
    return {kind for kind in found if kind.__module__.startswith("danhba.")}


def test_every_documented_schema_has_a_name_of_its_own() -> None:
    """Ninja files each schema under its class name: two classes of one name document one of
    them in both places (the import preview was shown with the segment preview's shape)."""
    by_name: dict[str, set[str]] = {}
    for model in documented_types():
        by_name.setdefault(model.__name__, set()).add(f"{model.__module__}.{model.__qualname__}")
    shared = {name: sorted(classes) for name, classes in by_name.items() if len(classes) > 1}
    assert not shared, f"schema names used by more than one class: {shared}"
    # The walk found what the document holds (so it cannot pass by finding nothing).
    components = set(api.get_openapi_schema(path_prefix="/api/")["components"]["schemas"])
    assert components <= set(by_name), components - set(by_name)
    assert len(components) > 50


def test_the_import_preview_is_documented_with_its_own_shape() -> None:
    schema = api.get_openapi_schema(path_prefix="/api/")
    ref = schema["paths"]["/api/imports/{import_id}/preview"]["get"]["responses"][200]["content"]["application/json"]
    name = ref["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "rows" in schema["components"]["schemas"][name]["properties"]
    segment_ref = schema["paths"]["/api/segments/preview"]["post"]["responses"][200]["content"]["application/json"]
    assert segment_ref["schema"]["$ref"] != ref["schema"]["$ref"]


# --- /api/docs in a real browser -------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_api_docs_list_the_operations(live_server: Any, admin: Any, page: Any) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    outside: list[str] = []
    # Nothing may come from another host: the docs must work on a machine without internet.
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(base) else None)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{base}/login/?next=/api/docs")
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(f"{base}/api/docs")

    operations = page.locator(".opblock-summary-path")
    # Swagger UI builds the page from the schema in the browser: seconds on a busy machine.
    expect(operations.first).to_be_visible(timeout=20_000)
    paths = {text.strip().replace("\u200b", "") for text in operations.all_inner_texts()}
    assert {"/api/contacts", "/api/imports/{import_id}/errors.csv", "/api/contacts/exports/{job_id}/download"} <= paths
    assert page.locator(".errors-wrapper").count() == 0, page.locator(".errors-wrapper").inner_text()
    assert not outside, outside
    assert not errors, errors
