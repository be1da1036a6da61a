import logging

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import redirect, render
from django.utils import translation

from facturador.core import tenancy
from facturador.core.errors import Refusal
from facturador.core.redirects import safe_next

logger = logging.getLogger(__name__)


class ChosenLanguageMiddleware(LocaleMiddleware):
    """The interface speaks Spanish unless the user chose another language with the selector (its cookie).

    Unlike Django's LocaleMiddleware, the browser's Accept-Language is not consulted: many clerks in Colombia
    and Mexico use browsers set to English, and the product's users, manuals and documents are Spanish.
    """

    def process_request(self, request):
        language = settings.LANGUAGE_CODE
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen:
            try:
                language = translation.get_supported_language_variant(chosen)
            except LookupError:
                pass
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class CurrentIssuerMiddleware:
    """Sets request.issuer / request.membership and the issuer's time zone and locale."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.issuer, request.membership = (None, None)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            request.issuer, request.membership = tenancy.resolve(request)
        tenancy.activate_issuer_timezone(request.issuer)
        if (request.issuer is not None and not request.path.startswith("/api/")
                and translation.get_language().startswith("es")):
            # Spanish readers get their issuer's country variant; a user who chose English keeps it.
            translation.activate("es-mx" if request.issuer.country == "MX" else "es-co")
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class RefusalMiddleware:
    """The web channel's translation of a refusal raised outside a form (a button, a link).

    The refusal's message is shown on the page the user came from (when it is on this site), or on an
    error page with the refusal's status. API requests are left to the DRF exception handler.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, Refusal) or request.path.startswith("/api/"):
            return None
        logger.info("Refused %s %s: %s", request.method, request.path, exception)
        back = safe_next(request, request.headers.get("referer"), "")
        if back:
            messages.error(request, exception.message)
            return redirect(back)
        return render(request, "core/refusal.html", {"refusal": exception}, status=exception.status)


class RequestSizeMiddleware:
    """Refuses a request whose declared body is larger than settings.FACTURADOR_UPLOAD_MAX_BYTES before anything
    reads it (HTTP 413), so no upload — an import file, an accounts or payments file, a ticket CSV, a certificate —
    can make a web process read more than that. Each action then applies its own, smaller limit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.FACTURADOR_UPLOAD_MAX_BYTES
        if length > limit:
            logger.info("Refused a %s-byte request to %s", length, request.path)
            message = f"La solicitud supera el tamaño máximo admitido ({limit // 2**20} MB)."
            if request.path.startswith("/api/"):
                return JsonResponse({"code": "core.request.too_large", "detail": message, "field": None,
                                     "details": {"limit": limit}}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
