"""Portfolio (cartera): aging figures computed by hand, filters, xlsx export (UI, API, CLI)."""

import datetime as dt
import io
import zipfile
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from facturador.billing import cartera, invoice_templates
from facturador.billing.models import Account, Batch, BillingInvoice, Charge, Payment

AS_OF = dt.date(2026, 10, 15)


def charge(issuer, acc, period, amount):
    return Charge.objects.create(issuer=issuer, account=acc, reference=acc.reference if acc else "99999", period=period,
                                 concept="Alumbrado público", amount=D(amount), unit_price=D(amount), source="import")


def pay(issuer, acc, amount, on):
    return Payment.objects.create(issuer=issuer, account=acc, reference=acc.reference, amount=D(amount), paid_on=on)


@pytest.fixture
def portfolio(issuer_co):
    iss = issuer_co
    a = Account.objects.create(issuer=iss, reference="00010", holder_name="Ana", id_number="1")
    b = Account.objects.create(issuer=iss, reference="00020", holder_name="Beto", id_number="2")
    c = Account.objects.create(issuer=iss, reference="00030", holder_name="Comercio C", id_number="3",
                               service_class="comercial")
    for period, amount in [("2026-06", 100), ("2026-07", 200), ("2026-08", 300), ("2026-09", 400), ("2026-10", 500)]:
        charge(iss, a, period, amount)
    pay(iss, a, 150, dt.date(2026, 10, 1))
    pay(iss, a, 1000, dt.date(2026, 10, 20))  # after the cut-off: ignored
    charge(iss, b, "2026-09", 1000)
    pay(iss, b, 400, dt.date(2026, 10, 10))
    tpl = invoice_templates.ensure_default(iss)
    batch = Batch.objects.create(issuer=iss, periods=["2026-09"], issue_date=dt.date(2026, 10, 1),
                                 due_date=dt.date(2026, 10, 20), template=tpl, template_version=1)
    BillingInvoice.objects.create(issuer=iss, batch=batch, account=b, period_key="2026-09", number=1,
                                  issue_date=batch.issue_date, due_date=batch.due_date, total=D(1000))
    charge(iss, c, "2026-08", 500)
    pay(iss, c, 700, dt.date(2026, 9, 1))
    charge(iss, None, "2026-09", 12345)  # unknown reference: not in anybody's portfolio
    return a, b, c


def buckets(row):
    return [row.buckets[k] for k in cartera.BUCKET_KEYS]


@pytest.mark.django_db
def test_aging_buckets_fifo_and_due_dates(issuer_co, portfolio):
    report = cartera.compute(issuer_co, as_of=AS_OF)
    rows = {r.reference: r for r in report.rows}
    assert list(rows) == ["00010", "00020", "00030"]
    # A: Jun 100 + 50 of Jul paid (FIFO); Jul 150 due 31/07 (76 days), Aug 300 due 31/08 (45 days),
    # Sep 400 due 30/09 (15 days), Oct 500 not yet due.
    a = rows["00010"]
    assert (a.charged, a.paid, a.balance) == (D(1500), D(150), D(1350))
    assert buckets(a) == [D(500), D(400), D(300), D(150), D(0)]
    # B: Sep invoiced with due date 20/10 -> still current, 600 after the 400 payment.
    assert buckets(rows["00020"]) == [D(600), 0, 0, 0, 0]
    # C: paid 700 for 500 -> credit of 200 shown as negative current balance.
    assert rows["00030"].balance == D(-200) and buckets(rows["00030"]) == [D(-200), 0, 0, 0, 0]
    t = report.totals
    assert t["balance"] == D(1750)
    assert [t[k] for k in cartera.BUCKET_KEYS] == [D(900), D(400), D(300), D(150), D(0)]


@pytest.mark.django_db
def test_over_90_and_filters(issuer_co, portfolio):
    later = cartera.compute(issuer_co, as_of=dt.date(2026, 11, 30))  # the late 1000 payment now counts for A
    a = {r.reference: r for r in later.rows}["00010"]
    assert a.balance == D(350)
    # A: 1150 paid -> Jun..Sep (1000) and 150 of Oct; Oct 350 due 31/10 -> 30 days late.
    assert buckets(a) == [0, D(350), 0, 0, 0]
    old = cartera.compute(issuer_co, as_of=dt.date(2027, 2, 1))
    assert {r.reference: r for r in old.rows}["00010"].buckets["over_90"] == D(350)

    only_c = cartera.compute(issuer_co, as_of=AS_OF, service_class="comercial")
    assert [r.reference for r in only_c.rows] == ["00030"]
    sep = cartera.compute(issuer_co, as_of=AS_OF, periods=["2026-09"])
    assert {r.reference: r.balance for r in sep.rows} == {"00010": D(400), "00020": D(600)}
    assert sep.totals["balance"] == D(1000)
    with_balance = cartera.compute(issuer_co, as_of=AS_OF, only_with_balance=True, reference="0003")
    assert [r.reference for r in with_balance.rows] == ["00030"]


def read_xlsx(data):
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return wb.get_sheet_by_index(0).to_python()


@pytest.mark.django_db
def test_xlsx_export_ui_api_cli(issuer_co, portfolio, client_co, api_client, admin_co, tmp_path):
    resp = client_co.get("/facturacion/cartera/exportar/", {"as_of": "2026-10-15"})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = read_xlsx(resp.content)
    header = rows[3]
    assert header[:3] == ["Referencia", "Titular", "Identificación"] and "Más de 90 días" in header
    data = rows[4:7]
    assert [r[0] for r in data] == ["00010", "00020", "00030"]  # leading zeros kept
    assert data[2][3:6] == ["Comercial", "", "Activa"]  # labels, not the stored codes
    assert data[0][header.index("Facturado")] == 1500 and rows[1][0].startswith("Fecha de corte: 15/10/2026")
    assert rows[7][0] == "Totales" and rows[7][header.index("Saldo")] == 1750

    page = client_co.get("/facturacion/cartera/", {"as_of": "2026-10-15"})
    assert page.status_code == 200 and "00010" in page.content.decode()

    api_client.force_authenticate(admin_co)
    r = api_client.get(f"/api/v1/issuers/{issuer_co.pk}/billing/cartera/", {"as_of": "2026-10-15", "periods": "2026-09"})
    assert r.status_code == 200, r.content
    assert r.json()["totals"]["balance"] == "1000.00"

    out = tmp_path / "cartera.xlsx"
    stdout = io.StringIO()
    call_command("cartera", "export", "--issuer", issuer_co.tax_id, "--as-of", "2026-10-15", "--out", str(out),
                 stdout=stdout)
    assert "3 cuentas" in stdout.getvalue()
    assert [r[0] for r in read_xlsx(out.read_bytes())[4:7]] == ["00010", "00020", "00030"]


@pytest.mark.django_db
def test_xlsx_export_writes_a_malicious_reference_as_text(issuer_co):
    malicious = "=cmd|' /C calc'!A0"
    acc = Account.objects.create(issuer=issuer_co, reference=malicious, holder_name="@SUM(1+1)*cmd|' /C calc'!A0")
    charge(issuer_co, acc, "2026-09", 100)
    buf = io.BytesIO()
    assert cartera.export_xlsx(cartera.compute(issuer_co, as_of=AS_OF), buf, issuer=issuer_co) == 1
    assert read_xlsx(buf.getvalue())[4][:2] == [malicious, "@SUM(1+1)*cmd|' /C calc'!A0"]
    assert b"<f>" not in zipfile.ZipFile(buf).read("xl/worksheets/sheet1.xml")  # no formula cell


@pytest.mark.django_db
def test_cartera_page_writes_amounts_the_colombian_way(issuer_co, client_co):
    acc = Account.objects.create(issuer=issuer_co, reference="00077", holder_name="Gran Cliente", id_number="7")
    charge(issuer_co, acc, "2026-09", "4125000000.00")
    charge(issuer_co, acc, "2026-10", "6200.50")
    html = client_co.get("/facturacion/cartera/", {"as_of": "2026-10-15"}).content.decode()
    assert "$ 4.125.000.000" in html and "$ 6.200,50" in html and "$ 4.125.006.200,50" in html
    assert "4,125,000,000,00" not in html


@pytest.mark.django_db
def test_cartera_api_amounts_are_plain_decimals_with_two_places(issuer_co, api_client, admin_co):
    acc = Account.objects.create(issuer=issuer_co, reference="00077", holder_name="Gran Cliente", id_number="7")
    charge(issuer_co, acc, "2026-09", "34540.96")
    api_client.force_authenticate(admin_co)
    body = api_client.get(f"/api/v1/issuers/{issuer_co.pk}/billing/cartera/", {"as_of": "2026-10-15"}).json()
    assert body["totals"]["charged"] == "34540.96" and body["totals"]["paid"] == "0.00"
    row = body["rows"][0]
    assert row["balance"] == "34540.96" and set(row["buckets"].values()) <= {"0.00", "34540.96"}
    charges = api_client.get(f"/api/v1/issuers/{issuer_co.pk}/billing/charges/").json()
    assert [c["amount"] for c in charges["results"]] == ["34540.96"]


@pytest.mark.django_db
def test_cartera_filters_periods_by_check_boxes(issuer_co, portfolio, client_co):
    page = client_co.get("/facturacion/cartera/", {"as_of": "2026-10-15", "periods": ["2026-09"]})
    html = page.content.decode()
    assert '<input type="checkbox" name="periods" value="2026-09"' in html and " checked" in html
    assert page.context["report"].periods == ["2026-09"]
