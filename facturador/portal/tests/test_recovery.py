"""Password recovery (issue 13): the current password keeps working until the emailed temporary one is used;
the captcha has a real answer space, is single use, expires and is drawn readably."""

import collections
import io
import re

import pytest
from django.utils import timezone

from facturador.core.actors import Actor
from facturador.core.errors import Refusal
from facturador.portal import accounts, actions
from facturador.portal.models import Customer
from facturador.portal.tests.conftest import PASSWORD

WEB = Actor(channel="web", ip="10.0.3.1", name="rfc:test")


def request_recovery(portal, account, smtp_server) -> str:
    session = {}
    answer = accounts.new_captcha(session)
    actions.recover_password(portal, WEB, rfc=account.rfc, email=account.email,
                             captcha_challenge=accounts.take_captcha(session), captcha_answer=answer)
    return re.search(r"es: (\S+)", smtp_server.messages[-1].get_body().get_content()).group(1)


def fresh(customer):
    return Customer.objects.get(pk=customer.pk)


def test_current_password_still_works_after_a_recovery_request(portal, account, smtp_server):
    request_recovery(portal, account, smtp_server)
    assert accounts.authenticate(fresh(account), PASSWORD)
    assert not fresh(account).must_change_password


def test_using_the_temporary_password_forces_the_change_and_retires_the_old_one(portal, account, smtp_server):
    temp = request_recovery(portal, account, smtp_server)
    assert accounts.authenticate(fresh(account), temp).must_change_password
    with pytest.raises(Refusal) as err:
        accounts.authenticate(fresh(account), PASSWORD)
    assert err.value.code == "portal.account.wrong_password"


def test_temporary_password_expires(portal, account, smtp_server, settings):
    temp = request_recovery(portal, account, smtp_server)
    until = fresh(account).temp_password_until
    expected = timezone.now() + timezone.timedelta(minutes=settings.FACTURADOR_PORTAL_TEMP_PASSWORD_MINUTES)
    assert abs((until - expected).total_seconds()) < 60
    Customer.objects.filter(pk=account.pk).update(temp_password_until=timezone.now() - timezone.timedelta(seconds=1))
    with pytest.raises(Refusal):
        accounts.authenticate(fresh(account), temp)
    assert accounts.authenticate(fresh(account), PASSWORD)


def test_captcha_answer_is_never_right_more_than_once_in_a_thousand():
    answers = collections.Counter(accounts.new_captcha({}) for _ in range(5000))
    assert max(answers.values()) <= 5, answers.most_common(3)


def test_captcha_challenge_is_single_use():
    session = {}
    answer = accounts.new_captcha(session)
    accounts.check_captcha(accounts.take_captcha(session), answer)
    with pytest.raises(Refusal) as err:
        accounts.check_captcha(accounts.take_captcha(session), answer)
    assert err.value.code == "portal.captcha.wrong"


def test_captcha_challenge_expires(settings):
    session = {}
    answer = accounts.new_captcha(session)
    session[accounts.CAPTCHA_KEY]["expires"] = timezone.now().timestamp() - 1
    with pytest.raises(Refusal):
        accounts.check_captcha(accounts.take_captcha(session), answer)


def test_captcha_image_has_large_glyphs():
    from PIL import Image

    img = Image.open(io.BytesIO(accounts.captcha_png("K7PX3M"))).convert("L")
    ink = img.point(lambda v: 255 if v < 110 else 0)  # the characters are dark; the noise is light
    left, top, right, bottom = ink.getbbox()
    assert bottom - top >= 28 and right - left >= 120, (left, top, right, bottom)
