from facturador.core.models import Issuer, NumberingRange


def test_token_auth_required(api_client):
    assert api_client.get("/api/v1/issuers/").status_code == 401


def test_create_issuer_invalid_nit_400_and_nothing_stored(api_client, make_user):
    from django.contrib.auth.models import Permission

    user = make_user("api")
    user.user_permissions.add(Permission.objects.get(codename="add_issuer"))
    api_client.force_authenticate(user)
    resp = api_client.post("/api/v1/issuers/", {"country": "CO", "tax_id": "800197268-5", "legal_name": "X"}, format="json")
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == "core.issuer.invalid" and body["field"] == "tax_id"
    assert "dígito de verificación" in body["detail"]
    assert not Issuer.objects.exists()
    ok = api_client.post("/api/v1/issuers/", {"country": "CO", "tax_id": "800197268-4", "legal_name": "X"}, format="json")
    assert ok.status_code == 201 and ok.json()["tax_id"] == "800197268" and ok.json()["check_digit"] == "4"


def test_read_only_user_cannot_create_issuers(api_client, make_user, issuer_co):
    api_client.force_authenticate(make_user("consulta", issuer_co, "readonly"))
    resp = api_client.post("/api/v1/issuers/", {"country": "CO", "tax_id": "800197268-4", "legal_name": "X"},
                           format="json")
    assert resp.status_code == 403 and resp.json()["code"] == "core.issuer.create_forbidden"
    assert not Issuer.objects.filter(tax_id="800197268").exists()


def test_numbering_range_api(api_client, admin_co, issuer_co):
    api_client.force_authenticate(admin_co)
    url = f"/api/v1/issuers/{issuer_co.pk}/numbering-ranges/"
    data = {"document_type": "invoice", "environment": "test", "prefix": "FE", "range_from": 1, "range_to": 1000,
            "valid_from": "2026-01-01", "valid_to": "2027-12-31", "resolution_number": "18764000001", "technical_key": "clave-tec"}
    created = api_client.post(url, data, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["next_number"] == 1 and body["has_technical_key"] is True and "technical_key" not in body
    overlap = api_client.post(url, {**data, "range_from": 900, "range_to": 1200}, format="json")
    assert overlap.status_code == 400 and overlap.json()["field"] == "range_from"
    assert NumberingRange.objects.filter(issuer=issuer_co).count() == 1
    assert b"clave-tec" not in api_client.get(url).content


def test_openapi_schema_and_docs(api_client, admin_co):
    api_client.force_authenticate(admin_co)
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/issuers/{issuer_pk}/numbering-ranges/" in paths
    assert "/api/v1/issuers/{issuer_pk}/certificates/" in paths
    assert api_client.get("/api/docs/").status_code == 200


def test_jobs_api_cancel_and_delete(api_client, admin_co, issuer_co):
    from facturador.core.models import Job

    api_client.force_authenticate(admin_co)
    pending = Job.objects.create(issuer=issuer_co, kind="core.ping")
    done = Job.objects.create(issuer=issuer_co, kind="core.ping", status="finished")
    base = f"/api/v1/issuers/{issuer_co.pk}/jobs/"
    assert api_client.delete(f"{base}{done.pk}/").status_code == 409
    assert api_client.delete(f"{base}{pending.pk}/").status_code == 204
    assert Job.objects.get(pk=pending.pk).status == "deleted"
    assert [j["id"] for j in api_client.get(f"{base}?state=deleted").json()["results"]] == [pending.pk]


def test_openapi_schema_has_no_warnings(tmp_path):
    """Every app's endpoints are documented without guesses (drf-spectacular fails on any warning)."""
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().count("/api/v1/issuers/{issuer_pk}/") > 10


def test_paging_numbers_beyond_the_database_are_clamped(api_client, admin_co, issuer_co):
    api_client.force_authenticate(admin_co)
    resp = api_client.get(f"/api/v1/issuers/{issuer_co.pk}/branches/?limit=99999999999999999999&offset=99999999999999999999")
    assert resp.status_code == 200 and resp.json()["results"] == []


def test_a_non_integer_id_in_a_path_is_not_found(api_client, admin_co, issuer_co):
    api_client.force_authenticate(admin_co)
    assert api_client.get(f"/api/v1/issuers/{issuer_co.pk}/imports/jobs/abc/").status_code == 404
    assert api_client.post(f"/api/v1/issuers/{issuer_co.pk}/imports/jobs/1.5/cancel/").status_code == 404
    assert api_client.get("/api/v1/issuers/x/").status_code == 404


def test_issuer_responsibilities_must_be_a_list_of_codes(api_client, admin_co, issuer_co):
    api_client.force_authenticate(admin_co)
    for bad in (None, "O-13", [{"a": 1}]):
        resp = api_client.patch(f"/api/v1/issuers/{issuer_co.pk}/", {"responsibilities": bad}, format="json")
        assert resp.status_code == 400, bad
        assert "responsibilities" in resp.json()
    ok = api_client.patch(f"/api/v1/issuers/{issuer_co.pk}/", {"responsibilities": ["O-13"]}, format="json")
    assert ok.status_code == 200 and ok.json()["responsibilities"] == ["O-13"]


def test_the_schema_documents_the_error_shape_and_integer_ids(api_client, admin_co):
    api_client.force_authenticate(admin_co)
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert set(schema["components"]["schemas"]["Refusal"]["properties"]) == {"code", "detail", "field", "details"}
    job = schema["paths"]["/api/v1/issuers/{issuer_pk}/imports/jobs/{id}/"]["get"]
    [id_param] = [p for p in job["parameters"] if p["name"] == "id"]
    assert id_param["schema"]["type"] == "integer"


def test_path_parameter_patterns_match_the_whole_value(api_client, admin_co):
    """`^xml|pdf$` would accept "xmlanything" and "anythingpdf": every alternative is anchored."""
    import re

    api_client.force_authenticate(admin_co)
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    patterns = {(path, p["name"]): p["schema"]["pattern"] for path, ops in schema["paths"].items()
                for op in ops.values() for p in op.get("parameters", []) if "pattern" in p.get("schema", {})}
    assert ("/api/v1/issuers/{issuer_pk}/dian/documents/{id}/files/{what}/", "what") in patterns
    for (path, name), pattern in patterns.items():
        for value in ("xmlx", "0pdf", "csv.xlsx", "1a"):
            assert not re.search(pattern, value), (path, name, pattern, value)
