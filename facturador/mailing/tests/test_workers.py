"""Real worker processes: crashes, an SMTP outage, and the global rate limit shared by two workers."""

import asyncio
from collections import Counter

import pytest

from conftest import wait_for
from facturador.mailing import actions
from facturador.mailing.models import Delivery, MailSend
from facturador.mailing.tests.conftest import ACTOR, FAST_ENV

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def slow_down(inbox, seconds):
    """The server stores the message, then waits before answering 250 (a slow relay)."""
    original = inbox.handle_DATA

    async def handle_DATA(server, session, envelope):
        reply = await original(server, session, envelope)
        await asyncio.sleep(seconds)
        return reply

    inbox.handle_DATA = handle_DATA


def register(issuer, ranges, **kw):
    return actions.register_send(issuer, ACTOR, ranges=ranges, subject="Factura {{numero}}",
                                  body="Hola {{cliente}}, total {{total}}.", **kw)


def final(send):
    send.refresh_from_db()
    return send.status in (MailSend.Status.FINISHED, MailSend.Status.FINISHED_WITH_ERRORS)


def assert_exactly_once(send, inbox):
    """Nobody twice, nobody unaccounted: every row is final; a sent row arrived exactly once; an
    unknown row (outcome lost in a crash) arrived at most once and is flagged for verification; there is at
    most one unknown row per SMTP connection that was open at the crash."""
    received = Counter(m["Message-ID"] for m in inbox.messages)
    assert all(n == 1 for n in received.values()), [k for k, n in received.items() if n > 1]
    rows = list(Delivery.objects.filter(send=send))
    statuses = Counter(r.status for r in rows)
    assert set(statuses) <= {Delivery.Status.SENT, Delivery.Status.UNKNOWN}, statuses
    for r in rows:
        if r.status == Delivery.Status.SENT:
            assert received[r.message_id] == 1, r.email
        else:
            assert received[r.message_id] <= 1 and "verifique" in r.smtp_response
    assert statuses[Delivery.Status.UNKNOWN] <= int(FAST_ENV["FACTURADOR_MAIL_CONCURRENCY"])  # one per open connection
    print("ledger:", dict(statuses), "received:", len(received))
    return statuses


def test_killed_worker_mid_send_each_message_once(issuer_co, make_docs, smtp_server, start_worker):
    make_docs(issuer_co, 40)
    slow_down(smtp_server, 0.1)  # the victim must still be sending when it is killed (two connections: 20/s)
    send = register(issuer_co, "FE1-FE40")
    victim = start_worker("victim", **FAST_ENV)
    actions.start(send.issuer, ACTOR, send=send)
    wait_for(lambda: len(smtp_server.envelopes) >= 8, timeout=30, every=0.05, message="first messages")
    victim.kill()
    rescuer = start_worker("rescuer", FACTURADOR_JOB_STALE_SECONDS=2, **FAST_ENV)
    wait_for(lambda: final(send), timeout=60, message="send finished after the crash")
    statuses = assert_exactly_once(send, smtp_server)
    assert statuses[Delivery.Status.SENT] + statuses[Delivery.Status.UNKNOWN] == 40
    workers = {r.worker.rsplit(":", 1)[0] for r in Delivery.objects.filter(send=send)}
    assert len({r.worker for r in Delivery.objects.filter(send=send)}) == 2, workers  # both did part of it
    send.job.refresh_from_db()
    assert send.job.attempts == 1
    assert rescuer.proc.poll() is None
    if statuses[Delivery.Status.UNKNOWN]:
        assert send.status == MailSend.Status.FINISHED_WITH_ERRORS
        settle_unknown(send, smtp_server)
    assert sorted(Counter(m["Message-ID"] for m in smtp_server.messages).values()) == [1] * 40


def settle_unknown(send, inbox):
    """The operator checks each unverified row (here: in the test server's mailbox) and confirms or resends it."""
    received = {m["Message-ID"] for m in inbox.messages}
    for row in Delivery.objects.filter(send=send, status=Delivery.Status.UNKNOWN):
        decision = "confirm" if row.message_id in received else "resend"
        actions.resolve_unknown(send.issuer, ACTOR, send=send, deliveries=[row.pk], decision=decision)
    wait_for(lambda: final(send) and send.job.refresh_from_db() is None and not send.job.is_active, timeout=30,
             message="unknown rows settled")
    assert set(Delivery.objects.filter(send=send).values_list("status", flat=True)) == {Delivery.Status.SENT}


def test_smtp_outage_auto_stop_and_resume(issuer_co, make_docs, smtp_server, start_worker):
    make_docs(issuer_co, 30)
    # slow enough that the outage begins while most messages are still to send (the worker sends on two
    # connections: at 0.03 s it sent all 30 before the server was stopped, once)
    slow_down(smtp_server, 0.3)
    send = register(issuer_co, "FE1-FE30", max_consecutive_failures=3)
    start_worker("w1", **FAST_ENV)
    actions.start(send.issuer, ACTOR, send=send)
    wait_for(lambda: len(smtp_server.envelopes) >= 6, timeout=30, every=0.05, message="first messages")
    smtp_server.controller.stop()
    wait_for(lambda: send.refresh_from_db() or send.status == MailSend.Status.STOPPED, timeout=30,
             message="automatic stop after consecutive failures")
    assert "fallos consecutivos" in send.stop_reason
    before = Counter(r.status for r in Delivery.objects.filter(send=send))
    assert before[Delivery.Status.PENDING] > 0 and before[Delivery.Status.CLAIMED] == 0
    assert before[Delivery.Status.SENDING] == 0
    # aiosmtpd's Controller closes its event loop on stop(); give it a fresh one and listen again on the same port.
    smtp_server.controller.loop = asyncio.new_event_loop()
    smtp_server.controller.start()
    assert smtp_server.controller.port == smtp_server.port
    wait_for(lambda: send.job.refresh_from_db() or not send.job.is_active, timeout=15, message="job ended")
    actions.resume(send.issuer, ACTOR, send=send)
    wait_for(lambda: final(send), timeout=60, message="send finished after the outage")
    statuses = assert_exactly_once(send, smtp_server)
    assert statuses[Delivery.Status.SENT] + statuses[Delivery.Status.UNKNOWN] == 30
    if statuses[Delivery.Status.UNKNOWN]:
        settle_unknown(send, smtp_server)
    assert sorted(Counter(m["Message-ID"] for m in smtp_server.messages).values()) == [1] * 30


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_rate_limit_is_global_across_two_workers(backend, issuer_co, make_docs, smtp_server, start_worker):
    env = dict(FAST_ENV, FACTURADOR_MAIL_RATE_PER_SECOND="4")
    if backend == "redis":
        redis = pytest.importorskip("redis")
        url = "redis://127.0.0.1:6379/15"
        try:
            client = redis.Redis.from_url(url)
            client.ping()
        except redis.exceptions.ConnectionError:
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        for key in client.scan_iter("facturador:mailing:rate:*"):
            client.delete(key)
        env["REDIS_URL"] = url
    make_docs(issuer_co, 10, prefix="FE")
    make_docs(issuer_co, 10, prefix="FC")
    one, two = register(issuer_co, "FE1-FE10"), register(issuer_co, "FC1-FC10")
    start_worker("rate1", **env), start_worker("rate2", **env)
    actions.start(one.issuer, ACTOR, send=one), actions.start(two.issuer, ACTOR, send=two)
    wait_for(lambda: final(one) and final(two), timeout=60, message="both sends finished")
    rows = list(Delivery.objects.filter(send__in=[one, two]))
    assert all(r.status == Delivery.Status.SENT for r in rows)
    per_window = Counter(r.rate_slot for r in rows)
    assert max(per_window.values()) <= 4, per_window
    assert len(per_window) >= 5  # 20 messages at 4 per second need at least 5 windows
    assert len({r.worker for r in rows}) == 2  # both workers sent, sharing the windows
    shared = [slot for slot in per_window if len({r.worker for r in rows if r.rate_slot == slot}) == 2]
    assert shared, "the two workers never sent in the same window"
    if backend == "redis":
        assert any(client.scan_iter("facturador:mailing:rate:*"))
