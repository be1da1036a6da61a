import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from facturador.cfdi.verify import verify_cfdi
from facturador.core.errors import Refusal
from facturador.portal import services
from facturador.portal.models import Cfdi, StampRequest, Ticket


def branch(portal, code="CDMX01"):
    return portal.branches.get(code=code) if hasattr(portal, "branches") else \
        __import__("facturador.core.models", fromlist=["Branch"]).Branch.objects.get(issuer=portal, code=code)


def test_ticket_to_stamped_cfdi(portal, make_ticket, receptor):
    t1, t2 = make_ticket(), make_ticket(subtotal="50.00")
    found = services.find_ticket(portal, branch(portal), t1.ticket_number, t1.order_number, str(t1.total))
    assert found == t1
    cfdi = services.invoice_tickets(portal, [t1, t2], receptor, "04")
    assert cfdi.uuid and str(cfdi.total) == "174.00" and cfdi.full_number == "AF1"
    result = verify_cfdi(bytes(cfdi.xml), [portal.pac.certificate_der], require_stamp=True)
    assert result.xsd_ok and result.sello_ok and result.stamped, result.errors
    assert set(Ticket.objects.values_list("status", flat=True)) == {"invoiced"}
    with pytest.raises(Refusal) as err:
        services.find_ticket(portal, branch(portal), t1.ticket_number, t1.order_number, str(t1.total))
    assert err.value.code == "portal.ticket.invoiced" and err.value.status == 409


@pytest.mark.parametrize("change,code", [
    (dict(total="999.00"), "portal.ticket.total_mismatch"),
    (dict(order="XX"), "portal.ticket.order_mismatch"),
    (dict(branch="GDL01"), "portal.ticket.other_branch"),
    (dict(ticket="nope"), "portal.ticket.not_found"),
    (dict(total="abc"), "portal.ticket.total_invalid"),
])
def test_ticket_checks(portal, make_ticket, change, code):
    t = make_ticket()
    with pytest.raises(Refusal) as err:
        services.find_ticket(portal, branch(portal, change.get("branch", "CDMX01")), change.get("ticket", t.ticket_number),
                             change.get("order", t.order_number), change.get("total", str(t.total)))
    assert err.value.code == code and err.value.message


def test_expired_window(portal, make_ticket):
    old = make_ticket(sold_at=timezone.now() - dt.timedelta(days=70))
    with pytest.raises(Refusal) as err:
        services.find_ticket(portal, branch(portal), old.ticket_number, old.order_number, str(old.total))
    assert err.value.code == "portal.ticket.window_expired" and "venció" in err.value.message


@pytest.mark.parametrize("value,code,reason", [("EKU9003173C8", "portal.rfc.invalid", "rfc_check_digit"),
                                               ("XAXX010101000", "portal.rfc.generic", None),
                                               ("ABC", "portal.rfc.invalid", "rfc_length")])
def test_invalid_rfc(value, code, reason):
    with pytest.raises(Refusal) as err:
        services.check_rfc(value)
    assert err.value.code == code and err.value.field == "rfc" and err.value.details.get("reason") == reason


def test_receptor_rules(receptor):
    receptor.rfc, receptor.name, receptor.regimen, receptor.uso_cfdi = "EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "D01"
    with pytest.raises(Refusal) as err:
        services.check_receptor(receptor)
    assert err.value.field == "uso_cfdi" and err.value.code == "portal.receptor.uso_incompatible"
    receptor.uso_cfdi, receptor.name = "G03", "ESCUELA KEMPER URGATE SA DE CV"
    with pytest.raises(Refusal) as err:
        services.check_receptor(receptor)
    assert err.value.field == "name" and err.value.code == "portal.receptor.name_with_regime"


def test_pac_rejection_leaves_ticket_available(portal, make_ticket, receptor):
    t = make_ticket()
    portal.pac.fail_next("CFDI40102", "El resultado de la digestión debe ser igual al resultado de la desencripción del sello.")
    with pytest.raises(Refusal) as err:
        services.invoice_tickets(portal, [t], receptor, "01")
    assert err.value.code == "portal.pac.rejected" and err.value.details == {"pac_code": "CFDI40102"} and err.value.message
    t.refresh_from_db()
    assert t.status == "available" and not Cfdi.objects.exists()


def test_pac_timeout_leaves_ticket_available_and_recovery_cancels_a_late_stamp(portal, make_ticket, receptor):
    t = make_ticket()
    ps = portal.ps
    ps.pac_timeout = 1
    ps.save()
    portal.pac.delay = 2.5
    with pytest.raises(Refusal) as err:
        services.invoice_tickets(portal, [t], receptor, "01")
    assert err.value.code == "portal.pac.timeout"
    t.refresh_from_db()
    assert t.status == "available"
    # the customer invoices again successfully
    portal.pac.delay = 0
    good = services.invoice_tickets(portal, [t], receptor, "01")
    # recovery re-sends the first XML: the PAC had stamped it, so that orphan is cancelled
    StampRequest.objects.filter(done=False).update(created_at=timezone.now() - dt.timedelta(hours=1))
    services.recover_reservations()
    t.refresh_from_db()
    assert t.cfdi == good
    valid = Cfdi.objects.filter(status="stamped")
    assert list(valid) == [good]
    assert Cfdi.objects.filter(status="cancelled", cancel_motive="02").count() <= 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_requests_invoice_a_ticket_once(portal, make_ticket, receptor):
    t = make_ticket()
    outcomes, barrier = [], threading.Barrier(2)

    def attempt():
        try:
            barrier.wait()
            outcomes.append(services.invoice_tickets(portal, [Ticket.objects.get(pk=t.pk)], receptor, "01"))
        except Refusal as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    [th.start() for th in threads]
    [th.join() for th in threads]
    cfdis = [o for o in outcomes if isinstance(o, Cfdi)]
    errors = [o for o in outcomes if isinstance(o, Refusal)]
    assert len(cfdis) == 1 and len(errors) == 1, outcomes
    assert errors[0].code == "portal.ticket.reserved"
    assert Cfdi.objects.count() == 1


def test_cancel_motives(portal, make_ticket, receptor):
    t = make_ticket()
    cfdi = services.invoice_tickets(portal, [t], receptor, "01")
    with pytest.raises(Refusal) as err:
        services.cancel(cfdi, "01")
    assert err.value.field == "substitute_uuid" and err.value.code == "portal.cancel.substitute_missing"
    services.cancel(cfdi, "02")
    cfdi.refresh_from_db()
    assert cfdi.status == "cancelled"
    t.refresh_from_db()
    assert t.status == "available"  # a cancelled-by-error invoice frees its ticket


def test_stamped_cfdi_gives_mass_email_its_files(portal, make_ticket, receptor):
    from facturador.core.models import IssuedDocument
    from facturador.mailing.services import attachments_for

    cfdi = services.invoice_tickets(portal, [make_ticket()], receptor, "01")
    issued = IssuedDocument.objects.get(source="portal.cfdi", source_id=str(cfdi.pk))
    files = {a.filename if hasattr(a, "filename") else a[0]: a for a in attachments_for(issued)}
    assert set(files) == {f"{cfdi.uuid}.xml", f"{cfdi.uuid}.pdf"}
    issued.refresh_from_db()
    assert issued.xml.read() == bytes(cfdi.xml)
