from django import template

from facturador.core import nav

register = template.Library()


@register.simple_tag
def main_nav(path):
    return nav.build(path)


@register.inclusion_tag("core/_job_progress.html")
def job_progress(job, owned=False):
    """A job's live progress. `owned=True` where the page already shows the state of the record that owns the job
    (a mailing send): the bar and counts only, refreshed with that record, so no second state word."""
    return {"job": job, "owned": owned}
