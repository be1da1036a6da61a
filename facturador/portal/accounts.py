"""Portal customer accounts (by RFC): passwords, lockout, temporary passwords, captcha, rate limits, device cookies.

Customers are not staff users: they live in `portal.Customer` and use the password hashers of
`django.contrib.auth`. A customer session stores only the customer id, per portal.

Device cookies (OWASP's defence against lockout abuse): a successful sign-in leaves a signed cookie naming the
customer and a random device id. Wrong passwords typed by anyone else lock the account and throttle it per
account; from a device that signed in as that customer before, the lock and the per-account throttle do not
apply — its attempts are limited per device instead — so a stranger guessing passwords cannot keep the customer
out of their own account.
"""

from __future__ import annotations

import io
import random
import secrets
import string

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from facturador.core.errors import Forbidden, Invalid
from facturador.core.throttle import throttle as core_throttle
from facturador.portal.models import Customer


def throttle(name: str, key: str) -> None:
    """Count one attempt of kind `name` (a key of settings.FACTURADOR_PORTAL_THROTTLES) for `key` (a client address,
    an account); refuse past the limit (core.throttle, HTTP 429)."""
    limit, seconds = settings.FACTURADOR_PORTAL_THROTTLES[name]
    core_throttle(f"portal-{name}", key, limit=limit, seconds=seconds, code="portal.requests.too_many")


DEVICE_COOKIE = "portal_dispositivo"
DEVICE_MAX_AGE = 365 * 24 * 3600
_DEVICE_SALT = "facturador.portal.device"


def device_token(customer: Customer) -> str:
    """The value of the device cookie left by a successful sign-in (signed: it cannot be made up)."""
    return signing.dumps({"c": customer.pk, "d": secrets.token_hex(8)}, salt=_DEVICE_SALT, compress=True)


def trusted_device(token: str | None, customer: Customer) -> str | None:
    """The device id when `token` is this customer's device cookie (not expired), else None."""
    if not token:
        return None
    try:
        data = signing.loads(token, salt=_DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") != customer.pk:
        return None
    return str(data.get("d") or "") or None


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


def _temporary_matches(customer: Customer, password: str, now) -> bool:
    return bool(customer.temp_password and customer.temp_password_until and customer.temp_password_until > now
                and check_password(password, customer.temp_password))


def authenticate(customer: Customer, password: str, *, field: str = "password", trusted: bool = False) -> Customer:
    """The customer when the password is right; refusals name `field` (the form's password input).

    The temporary password of a recovery (unguessable, sent to the account's email) also opens a locked account;
    using it makes it the password, retires the old one and obliges the customer to choose a new one.
    `trusted`: the attempt comes from the customer's own device (`trusted_device`): the lock does not apply and a
    wrong password does not count towards it (the caller limits the device's attempts)."""
    now = timezone.now()
    if _temporary_matches(customer, password, now):
        customer.password, customer.must_change_password = customer.temp_password, True
        customer.temp_password, customer.temp_password_until = "", None
        customer.failed_logins, customer.locked_until, customer.last_login = 0, None, now
        customer.save(update_fields=["password", "must_change_password", "temp_password", "temp_password_until",
                                     "failed_logins", "locked_until", "last_login"])
        return customer
    if not trusted and customer.locked_until and customer.locked_until > now:
        raise _locked(customer, field)
    if not customer.has_account or not check_password(password, customer.password):
        if not trusted:
            _count_failure(customer, now)
        raise Invalid("portal.account.wrong_password", "El RFC o la contraseña no son correctos.", field=field)
    customer.failed_logins, customer.locked_until, customer.last_login = 0, None, now
    Customer.objects.filter(pk=customer.pk).update(failed_logins=0, locked_until=None, last_login=now)
    return customer


def check_new_password(password: str, *, field: str = "password") -> None:
    if len(password) < 8 or password.isdigit() or password.isalpha():
        raise Invalid("portal.password.weak", "La contraseña debe tener al menos 8 caracteres, con letras y números.",
                      field=field)


def hash_time(password: str) -> None:
    """Spend the time a password check takes (for an RFC without account)."""
    make_password(password)


def hash_new_password(password: str, *, field: str = "password") -> str:
    """The hash of a password the customer chooses (checked first): what waits in the session until the account
    is created, so the plaintext is never kept."""
    check_new_password(password, field=field)
    return make_password(password)


def set_password(customer: Customer, password: str, *, field: str = "password") -> None:
    set_password_hash(customer, hash_new_password(password, field=field))


def set_password_hash(customer: Customer, password_hash: str) -> None:
    """The customer's new password (also ends a pending recovery and a lockout)."""
    customer.password, customer.must_change_password = password_hash, False
    customer.temp_password, customer.temp_password_until = "", None
    customer.failed_logins, customer.locked_until = 0, None
    customer.save(update_fields=["password", "must_change_password", "temp_password", "temp_password_until",
                                 "failed_logins", "locked_until"])


def temporary_password() -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(10))
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw):
            return pw


def recover(customer: Customer | None, email: str, portal_name: str) -> bool:
    """Email a temporary password when RFC and email match; the caller says nothing different when they do not.

    The current password keeps working: the temporary one is stored apart (hashed, with an expiry) and replaces
    it only when the customer uses it, so knowing an RFC and its email is not enough to lock a customer out."""
    if customer is None or not customer.has_account or customer.email.lower() != email.strip().lower():
        return False
    pw = temporary_password()
    minutes = settings.FACTURADOR_PORTAL_TEMP_PASSWORD_MINUTES
    customer.temp_password = make_password(pw)
    customer.temp_password_until = timezone.now() + timezone.timedelta(minutes=minutes)
    customer.save(update_fields=["temp_password", "temp_password_until"])
    EmailMessage(
        subject=f"{portal_name}: contraseña temporal",
        body=(f"Hola {customer.legal_name}:\n\nSu contraseña temporal para el portal de facturación es: {pw}\n\n"
              f"Es válida durante {minutes} minutos y al ingresar con ella se le pedirá crear una nueva. "
              "Mientras no la use, su contraseña actual sigue funcionando: si usted no la solicitó, ignore este mensaje."),
        to=[customer.email],
    ).send()
    return True


# --- captcha ------------------------------------------------------------------------------

CAPTCHA_KEY = "portal_captcha"
# no look-alikes (0/O/D/Q, 1/I/L, 2/Z, 5/S, 6/G, 8/B): 22 symbols, 6 of them: 22**6 ≈ 1.1e8 answers
CAPTCHA_ALPHABET = "ACEFHJKMNPRTUVWXY34679"
CAPTCHA_LENGTH = 6


def new_captcha(session) -> str:
    """A new challenge kept in the (server-side) session with its expiry; returns the text to draw."""
    text = "".join(secrets.choice(CAPTCHA_ALPHABET) for _ in range(CAPTCHA_LENGTH))
    session[CAPTCHA_KEY] = {"answer": text,
                            "expires": timezone.now().timestamp() + settings.FACTURADOR_PORTAL_CAPTCHA_SECONDS}
    return text


def current_captcha(session) -> str:
    """The text of the session's challenge (a new one when there is none or it expired), for the image."""
    challenge = session.get(CAPTCHA_KEY)
    if isinstance(challenge, dict) and challenge.get("expires", 0) > timezone.now().timestamp():
        return challenge["answer"]
    return new_captcha(session)


def take_captcha(session) -> dict | None:
    """The session's challenge, removed from it: each challenge is answered once, right or wrong."""
    challenge = session.pop(CAPTCHA_KEY, None)
    return challenge if isinstance(challenge, dict) else None


def check_captcha(challenge: dict | None, answer: str) -> None:
    """`challenge` is the one taken out of the session (`take_captcha`); the answer is case-insensitive."""
    ok = (challenge is not None and challenge.get("expires", 0) > timezone.now().timestamp()
          and secrets.compare_digest((answer or "").strip().upper().encode(), str(challenge.get("answer", "")).encode()))
    if not ok:
        raise Invalid("portal.captcha.wrong", "La verificación no es correcta o venció. Escriba los caracteres "
                      "de la nueva imagen.", field="captcha")


def _captcha_font(size: int):
    from PIL import ImageFont

    for name in ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def captcha_png(text: str) -> bytes:
    """The challenge drawn large (about 40 px capitals), each character turned and shifted a little, over light
    noise: readable by people, not plain text on the page."""
    from PIL import Image, ImageDraw

    width, height = 300, 90
    rnd = random.Random()
    img = Image.new("RGB", (width, height), (246, 248, 251))
    draw = ImageDraw.Draw(img)
    for _ in range(10):
        draw.line([(rnd.randint(0, width), rnd.randint(0, height)), (rnd.randint(0, width), rnd.randint(0, height))],
                  fill=(rnd.randint(170, 215),) * 3, width=2)
    for _ in range(250):
        x, y = rnd.randint(0, width - 1), rnd.randint(0, height - 1)
        draw.point((x, y), fill=(rnd.randint(160, 220),) * 3)
    font = _captcha_font(52)
    step = (width - 30) // max(len(text), 1)
    for i, ch in enumerate(text):
        glyph = Image.new("RGBA", (70, 80), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((35, 40), ch, font=font, anchor="mm",
                                   fill=(rnd.randint(10, 60), rnd.randint(20, 60), rnd.randint(60, 120), 255))
        glyph = glyph.rotate(rnd.uniform(-18, 18), resample=Image.BICUBIC, expand=False)
        img.paste(glyph, (15 + i * step - 10 + rnd.randint(-3, 3), 5 + rnd.randint(-4, 4)), glyph)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
