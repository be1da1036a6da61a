"""`{% account_lines account %}`: an account's imported lines and its charges, by period (the account page)."""

from django import template

from facturador.imports import services

register = template.Library()

PERIODS = 6        # the latest periods shown
PER_PERIOD = 50    # lines and charges listed per period (the totals count them all)


@register.inclusion_tag("imports/_account_lines.html", takes_context=True)
def account_lines(context, account):
    from django.db.models import Count, Sum

    from facturador.billing.models import Charge

    issuer_id = account.issuer_id
    charges = Charge.objects.filter(issuer_id=issuer_id, account=account)
    lines = services.lines_for(account.issuer, {"account": account.reference})
    periods = sorted(set(charges.order_by().values_list("period", flat=True).distinct())
                     | set(lines.order_by().values_list("period", flat=True).distinct()), reverse=True)[:PERIODS]
    out = []
    for period in periods:
        c = charges.filter(period=period).order_by("concept", "id")
        ln = lines.filter(period=period)
        out.append({"period": period, "charges": list(c[:PER_PERIOD]),
                    "charges_total": c.aggregate(n=Count("id"), s=Sum("amount")),
                    "lines": list(ln[:PER_PERIOD]), "lines_total": ln.order_by().aggregate(n=Count("id"), s=Sum("amount"))})
    return {"account": account, "periods": out, "current_issuer": context.get("current_issuer")}
