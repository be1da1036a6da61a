"""A send's state is derived from its job (MailSend.state): the stored status, stop reason and finish time go.

Before dropping them, the facts the job did not hold yet are moved to it: an automatic stop (the job
finished, the send was stopped) becomes the job's result["stop_reason"]; a send the operator settled
(unknown rows confirmed: finished, its job finished with errors) gets its job marked finished.
"""

from django.db import migrations


def to_job(apps, schema_editor):
    MailSend = apps.get_model("mailing", "MailSend")
    Job = apps.get_model("core", "Job")
    for send in MailSend.objects.exclude(job=None).only("status", "stop_reason", "job_id").iterator():
        job = Job.objects.filter(pk=send.job_id).first()
        if job is None:
            continue
        if send.status == "stopped" and job.status in ("finished", "finished_errors"):
            job.result = dict(job.result or {}, stop_reason=send.stop_reason or "Detenido.")
            job.save(update_fields=["result"])
        elif send.status == "finished" and job.status == "finished_errors":
            job.status, job.errors = "finished", 0
            job.save(update_fields=["status", "errors"])


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0002_issued_document"),
        ("mailing", "0002_delivery_hot_updates"),
    ]

    operations = [
        migrations.RunPython(to_job, migrations.RunPython.noop),
        migrations.RemoveField(model_name="mailsend", name="status"),
        migrations.RemoveField(model_name="mailsend", name="stop_reason"),
        migrations.RemoveField(model_name="mailsend", name="finished_at"),
    ]
