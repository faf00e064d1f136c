"""Schemathesis fuzzes every API operation from its OpenAPI schema — data that fits the schema
and data that does not — through the real WSGI app in-process, with an admin's API key, and
requires that no response is a 5xx and every 4xx is ``{code, message, details}`` (the check in
``fuzzing.py``; ``test_api_schemathesis_live.py`` runs schemathesis over HTTP against a live
server). Bounded so the whole file runs in well under a minute."""

from __future__ import annotations

import copy
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from danhba.accounts.services import apikey_create
from danhba.api import api
from danhba.conftest import actor_for
from danhba.contacts.models import Company, CustomField, Tag, TimelineEntry
from danhba.core.tests.fuzzing import errors_are_json
from danhba.messaging import domains
from danhba.messaging.models import Campaign, EmailTemplate
from danhba.messaging.services.domains import domain_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

OPENAPI = api.get_openapi_schema(path_prefix="/api/")
SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(OPENAPI))
OPERATIONS = sorted(
    (method.upper(), path) for path, methods in OPENAPI["paths"].items() for method in methods if method != "parameters"
)
# Per operation and mode; raise it for a longer hunt: DANHBA_FUZZ_EXAMPLES=500 pytest this file.
EXAMPLES = int(os.getenv("DANHBA_FUZZ_EXAMPLES", "20"))


@pytest.fixture
def wsgi_app():
    """Django's WSGI app in this thread, on the test's database connection. Django's own test
    client does the same: the request signals must not close the connection mid-transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def records(admin, users, make_contact, monkeypatch):
    """One of everything, so pinned ids reach the code behind the 404."""
    monkeypatch.setattr(domains, "dns_lookup", lambda name: [])  # a domain check asks no real DNS
    contact = make_contact(full_name="Nguyễn Văn Fuzz", emails=["fuzz@example.vn"], phones=["0912345678"])
    return {
        "contact_id": contact.pk,
        "entry_id": TimelineEntry.objects.create(contact=contact, author=admin, kind="note", body="x").pk,
        "company_id": Company.objects.create(name="Fuzz Co", name_key="fuzz co").pk,
        "tag_id": Tag.objects.create(name="fuzz", name_key="fuzz").pk,
        "field_id": CustomField.objects.create(key="fuzz", label="Fuzz", type="text").pk,
        "campaign_id": Campaign.objects.create(
            name="fuzz", template=EmailTemplate.objects.get_or_create(name="fuzz c", subject="s", body="<p>x</p>")[0]
        ).pk,
        "template_id": EmailTemplate.objects.create(
            name="fuzz", subject="Hi {{ contact.given_name }}", body="<p>x</p>"
        ).pk,
        "domain_id": domain_create(actor=actor_for(admin), domain="fuzz.example.vn").pk,
        **_sales_records(admin, contact),
        **_assignment_records(admin, users["sales"]),
        **_form_records(admin, contact),
        **_channel_records(),
        "product_id": _product_id(),
    }


def _product_id():
    from danhba.orders.models import Product

    return Product.objects.create(product_id="FUZZ-1", name="Fuzz", unit="hộp", price=1000).product_id


def _assignment_records(admin, rep):
    """A rule (sales'; the scoring rules' {rule_id} gets it too and answers 404), an absence and
    a rep for the handover."""
    from danhba.accounts.models import Team
    from danhba.sales.models import Absence, AssignmentRule

    team = Team.objects.create(name="Fuzz team")
    rep.team = team
    rep.save(update_fields=["team"])
    rule = AssignmentRule.objects.create(name="Fuzz", team=team)
    absence = Absence.objects.create(user=rep, starts_at=timezone.now(), set_by=admin)
    return {"rule_id": rule.pk, "absence_id": absence.pk, "user_id": rep.pk}


def _channel_records():
    from danhba.capture.models import ChannelConnection, ChannelPayload

    connection = ChannelConnection.objects.create(kind="zalo", name="Fuzz", account_id="1", secret="s")
    payload = ChannelPayload.objects.create(connection=connection, kind="zalo", body="{}", status="failed", error="x")
    return {"connection_id": connection.pk, "payload_id": payload.pk}


def _form_records(admin, contact):
    from danhba.capture.forms.services import webform_create
    from danhba.capture.models import FormSubmission

    form = webform_create(actor=actor_for(admin), data={"name": "Fuzz", "fields": [{"target": "email"}]})
    submission = FormSubmission.objects.create(form=form, payload={"email": "x"}, status="failed", error="x")
    return {"form_id": form.pk, "submission_id": submission.pk}


def _sales_records(admin, contact):
    from danhba.sales.models import LostReason, PriceList
    from danhba.sales.services.deals import deal_create, deal_line_add
    from danhba.sales.services.pipelines import pipeline_create
    from danhba.sales.services.tasks import task_create

    stages = [{"name": "New", "probability": 20}, {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]
    pipeline = pipeline_create(actor=actor_for(admin), data={"name": "Fuzz", "stages": stages})
    deal = deal_create(actor=actor_for(admin), data={"title": "Fuzz", "primary_contact_id": contact.pk, "value": 10})
    line = deal_line_add(actor=actor_for(admin), deal=deal, data={"name": "x", "price": 5})
    task = task_create(actor=actor_for(admin), data={"title": "Fuzz", "due_at": "2027-01-01T09:00:00+07:00"})
    price_list = PriceList.objects.create(name="Fuzz", currency="VND")
    return {"pipeline_id": pipeline.pk, "deal_id": deal.pk, "line_id": line.pk,
            "reason_id": LostReason.objects.first().pk, "task_id": task.pk, "list_id": price_list.pk,
            "stage_id": pipeline.stages.first().pk}  # fmt: skip


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_input_makes_a_server_error(method, path, admin, records, wsgi_app):
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="schemathesis")
    headers = {"Authorization": f"Bearer {raw}"}
    operation = SCHEMA[path][method]
    pinned = {name: records[name] for name in records if "{" + name + "}" in path}
    runs = [
        # Data that fits the schema, on records that exist, reaches the services.
        (operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE, path_parameters=pinned), EXAMPLES),
        # Data that does not fit, ids included, must be turned away with a 4xx.
        (operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE), EXAMPLES),
        # The schema's examples: mostly valid, so the success paths run too.
        *((strategy, 3) for strategy in SCHEMA.get_strategies_from_examples(operation)),
    ]
    for strategy, examples in runs:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def fuzz(case: schemathesis.Case) -> None:
            if pinned and strategy is not runs[1][0]:
                case.path_parameters = {**(case.path_parameters or {}), **pinned}
            response = case.call(app=wsgi_app, headers=headers)
            case.validate_response(response, checks=[not_a_server_error, errors_are_json])

        fuzz()
