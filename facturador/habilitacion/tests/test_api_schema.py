"""The enablement API answers as its OpenAPI schema says (found by the schemathesis run, core/tests/test_api_fuzz.py)."""

import pytest

pytestmark = pytest.mark.django_db

BASE = "/api/v1/issuers/{}/habilitacion/"


@pytest.fixture
def schema(api_client, admin_co):
    api_client.force_authenticate(admin_co)
    return api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def _ok_schema(schema, path, method="get"):
    return schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]


def test_the_enablement_is_one_object_in_the_schema(schema):
    assert _ok_schema(schema, "/api/v1/issuers/{issuer_pk}/habilitacion/enablement/") == \
        {"$ref": "#/components/schemas/Enablement"}


def test_the_enablement_dates_are_null_until_they_happen(schema, api_client, issuer_co):
    body = api_client.get(BASE.format(issuer_co.pk) + "enablement/").json()
    assert body["registered_on"] is None and body["operation_mode"] is None
    props = schema["components"]["schemas"]["Enablement"]["properties"]
    assert props["registered_on"]["nullable"] is True and props["operation_mode"]["nullable"] is True


def test_a_runs_documents_are_a_plain_list_in_the_schema(schema):
    documents = _ok_schema(schema, "/api/v1/issuers/{issuer_pk}/habilitacion/runs/{id}/documents/")
    assert documents == {"type": "array", "items": {"$ref": "#/components/schemas/RunDocument"}}


def test_test_numbering_without_a_technical_key_uses_dians(api_client, admin_co, issuer_co):
    api_client.force_authenticate(admin_co)
    resp = api_client.post(BASE.format(issuer_co.pk) + "enablement/test-numbering/", {
        "prefix": "SETP", "range_from": 990000000, "range_to": 995000000, "resolution_number": "18760000001",
        "valid_from": "2019-01-19", "valid_to": "2030-01-19"}, format="json")
    assert resp.status_code == 200, resp.content
    assert resp.json()["test_ranges"]["invoice"]["prefix"] == "SETP"
