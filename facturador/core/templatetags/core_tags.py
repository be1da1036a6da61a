from django import template

from facturador.core import nav

register = template.Library()


@register.simple_tag
def main_nav(path):
    return nav.build(path)


@register.inclusion_tag("core/_job_progress.html")
def job_progress(job):
    return {"job": job}
