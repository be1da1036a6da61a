"""The issuer's CIIU activity codes: checked and normalised by the issuer actions, on every channel."""

import io

import pytest
from django.core.management import call_command

from facturador.core import actions
from facturador.core.actors import Actor
from facturador.core.errors import Invalid


@pytest.mark.parametrize("typed,stored", [("4711", "4711"), (" 4711 , 6201 ", "4711,6201"), ("4711;6201", "4711,6201")])
def test_ciiu_codes_are_normalised(typed, stored):
    data = {"country": "CO", "ciiu": typed}
    assert actions.issuer_problems(data) == [] and data["ciiu"] == stored


@pytest.mark.parametrize("typed", ["471", "47111", "4711,abcd", "4711 6201"])
def test_ciiu_codes_have_four_digits(typed):
    assert [field for field, _ in actions.issuer_problems({"country": "CO", "ciiu": typed})] == ["ciiu"]


def test_update_issuer_refuses_a_bad_ciiu(issuer_co, admin_co):
    with pytest.raises(Invalid) as info:
        actions.update_issuer(issuer_co, Actor.cli(admin_co), data={"ciiu": "12"})
    assert (info.value.code, info.value.field) == ("core.issuer.invalid", "ciiu")
    actions.update_issuer(issuer_co, Actor.cli(admin_co), data={"ciiu": "4711, 6201"})
    issuer_co.refresh_from_db()
    assert issuer_co.ciiu == "4711,6201"


def test_api_reads_and_writes_ciiu(api_client, admin_co, issuer_co):
    api_client.force_authenticate(admin_co)
    url = f"/api/v1/issuers/{issuer_co.pk}/"
    bad = api_client.patch(url, {"ciiu": "47"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "ciiu"
    ok = api_client.patch(url, {"ciiu": "3511;3513"}, format="json")
    assert ok.status_code == 200 and ok.json()["ciiu"] == "3511,3513"


def test_web_form_shows_the_field_error(client_co, issuer_co):
    assert 'name="ciiu"' in client_co.get("/emisor/").content.decode()
    data = {name: getattr(issuer_co, name) for name in ("tax_id", "check_digit", "person_type", "legal_name",
                                                         "address", "municipality_code", "city", "email")}
    resp = client_co.post("/emisor/", {**data, "ciiu": "47-11"})
    assert resp.status_code == 200 and "tienen 4 dígitos" in resp.content.decode()
    assert client_co.post("/emisor/", {**data, "ciiu": "4711"}).status_code == 302
    issuer_co.refresh_from_db()
    assert issuer_co.ciiu == "4711"


def test_cli_create_takes_ciiu(db):
    out = io.StringIO()
    call_command("issuer", "create", "--country", "CO", "--tax-id", "800197268-4", "--name", "Energía S.A. E.S.P.",
                 "--ciiu", "3511,3514", stdout=out)
    from facturador.core.models import Issuer

    assert Issuer.objects.get(tax_id="800197268").ciiu == "3511,3514"
