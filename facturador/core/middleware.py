from django.utils import translation

from facturador.core import tenancy


class CurrentIssuerMiddleware:
    """Sets request.issuer / request.membership and the issuer's time zone and locale."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.issuer, request.membership = (None, None)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            request.issuer, request.membership = tenancy.resolve(request)
        tenancy.activate_issuer_timezone(request.issuer)
        if request.issuer is not None and not request.path.startswith("/api/"):
            translation.activate("es-mx" if request.issuer.country == "MX" else "es-co")
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
