"""Portal customer accounts (by RFC): passwords, lockout, temporary passwords, captcha, rate limits.

Customers are not staff users: they live in `portal.Customer` and use the password hashers of
`django.contrib.auth`. A customer session stores only the customer id, per portal.
"""

from __future__ import annotations

import io
import random
import secrets
import string

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from facturador.core.errors import Forbidden, Invalid
from facturador.portal.models import Customer


class TooManyAttempts(Forbidden):
    """A throttle's limit was reached (HTTP 429): the client must wait before trying again."""

    status = 429


def throttle(name: str, key: str) -> None:
    """Count one attempt of kind `name` (a key of settings.FACTURADOR_PORTAL_THROTTLES) for `key` (a client address,
    an account) in a fixed-window counter in the cache (Redis when REDIS_URL is set, shared by every process);
    refuse past the limit. `add` and `incr` are atomic, so parallel requests cannot all pass."""
    limit, seconds = settings.FACTURADOR_PORTAL_THROTTLES[name]
    bucket = f"portal-throttle:{name}:{key}:{int(timezone.now().timestamp()) // seconds}"
    if cache.add(bucket, 1, seconds + 5):
        count = 1
    else:
        try:
            count = cache.incr(bucket)
        except ValueError:  # expired between add and incr
            cache.add(bucket, 1, seconds + 5)
            count = 1
    if count > limit:
        raise TooManyAttempts("portal.requests.too_many",
                              "Demasiados intentos, espere unos minutos y vuelva a intentarlo.")


def _locked(customer: Customer, field: str) -> Forbidden:
    return Forbidden("portal.account.locked", f"La cuenta está bloqueada por intentos fallidos hasta las "
                     f"{timezone.localtime(customer.locked_until):%H:%M}. Puede recuperar su contraseña.", field=field)


def _count_failure(customer: Customer, now) -> None:
    """One more wrong password, counted by the database (parallel requests each add one) and the lock decided
    from the count this transaction wrote (its UPDATE holds the row until commit)."""
    with transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(failed_logins=F("failed_logins") + 1)
        failures = Customer.objects.values_list("failed_logins", flat=True).get(pk=customer.pk)
        if failures >= settings.FACTURADOR_PORTAL_LOCKOUT_FAILURES:
            customer.locked_until = now + timezone.timedelta(minutes=settings.FACTURADOR_PORTAL_LOCKOUT_MINUTES)
            Customer.objects.filter(pk=customer.pk).update(failed_logins=0, locked_until=customer.locked_until)


def authenticate(customer: Customer, password: str, *, field: str = "password") -> Customer:
    """The customer when the password is right; refusals name `field` (the form's password input)."""
    now = timezone.now()
    if customer.locked_until and customer.locked_until > now:
        raise _locked(customer, field)
    if not customer.has_account or not check_password(password, customer.password):
        _count_failure(customer, now)
        raise Invalid("portal.account.wrong_password", "El RFC o la contraseña no son correctos.", field=field)
    customer.failed_logins, customer.locked_until, customer.last_login = 0, None, now
    Customer.objects.filter(pk=customer.pk).update(failed_logins=0, locked_until=None, last_login=now)
    return customer


def check_new_password(password: str, *, field: str = "password") -> None:
    if len(password) < 8 or password.isdigit() or password.isalpha():
        raise Invalid("portal.password.weak", "La contraseña debe tener al menos 8 caracteres, con letras y números.",
                      field=field)


def hash_new_password(password: str, *, field: str = "password") -> str:
    """The hash of a password the customer chooses (checked first): what waits in the session until the account
    is created, so the plaintext is never kept."""
    check_new_password(password, field=field)
    return make_password(password)


def set_password(customer: Customer, password: str, *, temporary=False, field: str = "password") -> None:
    set_password_hash(customer, hash_new_password(password, field=field), temporary=temporary)


def set_password_hash(customer: Customer, password_hash: str, *, temporary=False) -> None:
    customer.password = password_hash
    customer.must_change_password = temporary
    customer.failed_logins, customer.locked_until = 0, None
    customer.save(update_fields=["password", "must_change_password", "failed_logins", "locked_until"])


def temporary_password() -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(10))
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw):
            return pw


def recover(customer: Customer | None, email: str, portal_name: str) -> bool:
    """Send a temporary password when RFC and email match; the caller says nothing different when they do not."""
    if customer is None or not customer.has_account or customer.email.lower() != email.strip().lower():
        return False
    pw = temporary_password()
    set_password(customer, pw, temporary=True)
    EmailMessage(
        subject=f"{portal_name}: contraseña temporal",
        body=(f"Hola {customer.legal_name}:\n\nSu contraseña temporal para el portal de facturación es: {pw}\n\n"
              "Al ingresar se le pedirá cambiarla. Si usted no la solicitó, ingrese y cámbiela de inmediato."),
        to=[customer.email],
    ).send()
    return True


# --- captcha ------------------------------------------------------------------------------

CAPTCHA_KEY = "portal_captcha"


def new_captcha(session) -> str:
    a, b = random.randint(2, 9), random.randint(2, 9)
    session[CAPTCHA_KEY] = str(a + b)
    return f"{a} + {b}"


def check_captcha(expected: str | None, answer: str) -> None:
    """`expected` is the answer kept in the session (taken out of it: each question is answered once)."""
    if not expected or (answer or "").strip() != expected:
        raise Invalid("portal.captcha.wrong", "La respuesta de la verificación no es correcta. Intente con la nueva operación.",
                      field="captcha")


def captcha_png(question: str) -> bytes:
    """The question drawn with noise, so it is not plain text on the page."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (150, 50), (246, 248, 251))
    draw = ImageDraw.Draw(img)
    rnd = random.Random()
    for _ in range(8):
        draw.line([(rnd.randint(0, 150), rnd.randint(0, 50)), (rnd.randint(0, 150), rnd.randint(0, 50))],
                  fill=(rnd.randint(150, 210),) * 3, width=1)
    x = 12
    for ch in f"{question} =":
        draw.text((x, 16 + rnd.randint(-5, 5)), ch, fill=(rnd.randint(10, 80), 40, rnd.randint(60, 140)))
        x += 12
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
