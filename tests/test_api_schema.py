"""The OpenAPI schema is valid and documents the ranking; the docs page works offline."""
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def resolve(schema: dict, node: dict) -> dict:
    """Follow $ref (and the single-item allOf drf-spectacular wraps a read-only reference in)."""
    while "$ref" in node or len(node.get("allOf", [])) == 1:
        node = node["allOf"][0] if "allOf" in node else node
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node
    return node


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on an invalid document


def test_the_schema_is_also_served_as_json():
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200 and response.json()["info"]["title"] == "CryptoSatX API"


def test_it_documents_every_endpoint(schema):
    assert set(schema["paths"]) >= {"/api/scan/unified-ranking", "/api/coins/{symbol}", "/api/scans",
                                    "/api/scans/{id}", "/api/auth/token", "/api/auth/me"}


def test_it_documents_the_rankings_parameters(schema):
    operation = schema["paths"]["/api/scan/unified-ranking"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"tier", "min_score", "scanner", "limit", "offset"}
    assert params["tier"]["schema"]["type"] == "array"
    assert params["tier"]["schema"]["items"]["enum"] == ["TIER_1", "TIER_2", "TIER_3", "TIER_4"]
    assert (params["min_score"]["schema"]["minimum"], params["min_score"]["schema"]["maximum"]) == (0, 100)
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 500)
    assert params["scanner"]["schema"]["enum"] == ["rsi", "smart_money", "mss", "social", "whale", "volume_spike"]
    assert "component" in params["scanner"]["description"]
    assert "400" in operation["responses"]


def test_it_documents_the_rankings_response(schema):
    body = resolve(schema, schema["paths"]["/api/scan/unified-ranking"]["get"]["responses"]["200"]["content"]
                   ["application/json"]["schema"])
    assert set(body["properties"]) == {"timestamp", "total_scanned", "count", "next", "previous", "results"}
    row = resolve(schema, body["properties"]["results"]["items"])
    assert set(row["properties"]) >= {"rank", "symbol", "unified_score", "tier", "recommendation", "confidence",
                                      "breakdown", "confirmations", "agreeing_scanners", "coverage", "risk_level",
                                      "historical_performance", "action", "computed_at", "data_as_of"}
    assert "expected_return" not in row["properties"]
    performance = row["properties"]["historical_performance"]
    assert performance["nullable"] is True
    assert "null" in performance["description"]
    measured = resolve(schema, performance)
    assert set(measured["properties"]) == {"n", "win_rate", "median_return_pct"}
    breakdown = resolve(schema, row["properties"]["breakdown"])
    assert set(breakdown["properties"]) == {"accumulation", "mss", "technical", "social_momentum", "whale",
                                            "volume_spike"}


def test_the_docs_page_uses_only_local_assets():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert not re.search(r"https?://", html), "the docs page must not load anything from the network"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not in the static files"
