import datetime as dt

from django.utils import timezone

from facturador.cfdi.verify import verify_cfdi
from facturador.core.jobs import execute_job
from facturador.core.models import Job
from facturador.portal import services, tasks
from facturador.portal.models import Cfdi, Ticket


def last_month():
    first = timezone.now().astimezone(services.MX).date().replace(day=1)
    prev = first - dt.timedelta(days=1)
    return f"{prev.year}-{prev.month:02d}", dt.datetime(prev.year, prev.month, 10, 12, tzinfo=services.MX)


def test_global_invoice_takes_the_period_uninvoiced_tickets(portal, make_ticket, receptor):
    period, when = last_month()
    a, b, c = make_ticket(sold_at=when), make_ticket(sold_at=when, subtotal="20.00"), make_ticket(sold_at=when)
    current = make_ticket()  # this month: not in the global
    portal.ps.window_days, portal.ps.window = 400, "days"
    portal.ps.save()
    services.invoice_tickets(portal, [c], services.ReceptorData(rfc="XIQB891116QE4", name="KARLA FUENTE NOLASCO",
                                                                 postal_code="01160", regimen="612", uso_cfdi="G03"), "01")
    tasks.schedule_globals()  # the periodic hook creates the month's job once
    tasks.schedule_globals()
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
    except services.PortalError as exc:
        assert exc.code == "global"
    else:
        raise AssertionError("a ticket in a global invoice was accepted")
    # running the job again does not issue a second global
    job2 = tasks.request_global(portal, period)
    execute_job.call(job2.pk)
    assert Cfdi.objects.filter(kind="G").count() == 1
