import datetime as dt

from facturador.cfdi.verify import verify_cfdi
from facturador.core.errors import Refusal
from facturador.core.jobs import execute_job
from facturador.core.models import Job
from facturador.portal import jobs, services
from facturador.portal.models import Cfdi, Ticket


def last_month():
    period = services.previous_period()
    year, month = (int(x) for x in period.split("-"))
    return period, dt.datetime(year, month, 10, 12, tzinfo=services.MX)


def test_global_invoice_takes_the_period_uninvoiced_tickets(portal, make_ticket, receptor):
    period, when = last_month()
    a, b, c = make_ticket(sold_at=when), make_ticket(sold_at=when, subtotal="20.00"), make_ticket(sold_at=when)
    current = make_ticket()  # this month: not in the global
    portal.ps.window_days, portal.ps.window = 400, "days"
    portal.ps.save()
    services.invoice_tickets(portal, [c], services.ReceptorData(rfc="XIQB891116QE4", name="KARLA FUENTE NOLASCO",
                                                                 postal_code="01160", regimen="612", uso_cfdi="G03"), "01")
    jobs.schedule_globals()  # the periodic hook creates the month's job once
    jobs.schedule_globals()
    job = Job.objects.get(kind="portal.global_invoice")
    assert job.params == {"period": period}
    assert execute_job.call(job.pk) == Job.Status.FINISHED
    glob = Cfdi.objects.get(kind="G")
    assert glob.period == period and glob.receptor_rfc == "XAXX010101000"
    assert verify_cfdi(bytes(glob.xml), [portal.pac.certificate_der], require_stamp=True).sello_ok
    assert b"InformacionGlobal" in bytes(glob.xml)
    assert set(Ticket.objects.filter(global_cfdi=glob)) == {a, b}
    assert Ticket.objects.get(pk=current.pk).status == "available"
    # the portal now refuses those tickets
    from facturador.core.models import Branch

    try:
        services.find_ticket(portal, Branch.objects.get(issuer=portal, code="CDMX01"), a.ticket_number, a.order_number, str(a.total))
    except Refusal as exc:
        assert exc.code == "portal.ticket.in_global"
    else:
        raise AssertionError("a ticket in a global invoice was accepted")
    # running the job again does not issue a second global
    job2 = services.create_global_job(portal, period)
    execute_job.call(job2.pk)
    assert Cfdi.objects.filter(kind="G").count() == 1


def test_ticket_in_a_global_reissued_through_motive_04(portal, make_ticket, receptor):
    period, when = last_month()
    a, b = make_ticket(sold_at=when), make_ticket(sold_at=when, subtotal="20.00")
    portal.ps.window_days, portal.ps.window, portal.ps.allow_reissue_from_global = 400, "days", True
    portal.ps.save()
    execute_job.call(services.create_global_job(portal, period).pk)
    old = Cfdi.objects.get(kind="G")
    from facturador.core.models import Branch

    ticket = services.find_ticket(portal, Branch.objects.get(issuer=portal, code="CDMX01"), a.ticket_number,
                                  a.order_number, str(a.total))
    nominative = services.invoice_tickets(portal, [ticket], receptor, "01")
    job = Job.objects.get(kind="portal.reissue_global")
    assert execute_job.call(job.pk) == Job.Status.FINISHED
    old.refresh_from_db()
    assert old.status == "cancelled" and old.cancel_motive == "04"
    new = Cfdi.objects.get(kind="G", status="stamped")
    assert new.period == period and new.uuid != old.uuid
    assert list(Ticket.objects.filter(global_cfdi=new)) == [b]
    assert Ticket.objects.get(pk=a.pk).cfdi == nominative
    assert verify_cfdi(bytes(new.xml), [portal.pac.certificate_der], require_stamp=True).sello_ok
    # running it again changes nothing
    execute_job.call(services.create_reissue_job(portal, old.pk).pk)
    assert Cfdi.objects.filter(kind="G", status="stamped").count() == 1
