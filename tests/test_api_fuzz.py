"""Schemathesis against /api/schema/: every documented operation is called with generated inputs
(valid and invalid) through the WSGI app, signed in and not, over the golden data set; no answer
may be a 5xx, and every answer must have a documented status, content type and body shape.

The number of examples per operation is bounded (API_FUZZ_EXAMPLES, default 20) so the suite stays
quick; raise it locally to search harder."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (requirements.txt)")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_factories import golden_dataset  # noqa: E402

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "20"))
TOKEN: list[str] = []  # the signed-in user's token, set by the fixture
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(db, django_user_model):
    from django.core import signals
    from django.db import close_old_connections
    from rest_framework.authtoken.models import Token

    from cryptosatx.wsgi import application

    golden_dataset()
    user = django_user_model.objects.create_user("fuzz", password="fuzz-password-123")
    token = Token.objects.create(user=user)
    TOKEN[:] = [token.key]
    # Django's own test client does this too: the WSGI handler would close the test's database
    # connection after each request (on PostgreSQL the next request then finds it closed).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_schema(case):
    """Anonymous, then signed in with a token: the same checks either way."""
    case.call_and_validate(checks=CHECKS)
    case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Token {TOKEN[0]}"})
