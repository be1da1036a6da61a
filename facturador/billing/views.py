"""UI views of mass billing (in progress)."""

from django.shortcuts import render

from facturador.core.tenancy import issuer_required


@issuer_required
def accounts(request):
    return render(request, "billing/placeholder.html", {"title": "Cuentas y cartera"})


@issuer_required
def batches(request):
    return render(request, "billing/placeholder.html", {"title": "Lotes de facturación"})


@issuer_required
def templates(request):
    return render(request, "billing/placeholder.html", {"title": "Plantillas de factura"})
