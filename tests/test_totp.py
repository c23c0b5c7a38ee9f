"""Authenticator apps (TOTP): setup behind re-authentication, sign-in, replay and window,
the account lock, and removal.

Codes are computed with pyotp from the secret the setup page shows. The server's TOTP clock
is pinned to the middle of the current 30 s step (`totp_clock`), so that a step boundary
passing during a test cannot change which codes are in the window.
"""

import re
import time
from types import SimpleNamespace

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuthEvent, TotpDevice, User
from accounts.services import totp as totp_service
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox, sign_in_password

Kind = AuthEvent.Kind

LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
VERIFY_TOTP_URL = "/accounts/login/verify/totp/"
RESEND_URL = "/accounts/login/resend/"
LOGOUT_URL = "/accounts/logout/"
SECURITY_URL = "/accounts/security/"
CONFIRM_URL = "/accounts/security/confirm/"
SETUP_URL = "/accounts/security/totp/"
REMOVE_URL = "/accounts/security/totp/remove/"

STEP = 30
SETUP_WRONG = "That code is not right. Check the time on your phone."
SIGN_IN_WRONG = "That code is not right. Check the time on your phone and try again."
LOCKED = "Sign-in to this account is temporarily blocked"
SECRET = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<')


def page(response) -> str:
    return response.content.decode()


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


@pytest.fixture
def totp_clock(monkeypatch) -> float:
    """Pin the server's TOTP clock to the middle of the current step; returns that time."""
    now = (int(time.time()) // STEP) * STEP + STEP / 2
    monkeypatch.setattr(totp_service, "time", SimpleNamespace(time=lambda: now))
    return now


def code_at(secret: str, now: float, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(now + steps * STEP)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.fixture
def totp_user(make_user) -> tuple[User, str]:
    """A user with a confirmed authenticator that has not been used yet, and its secret."""
    user = make_user("totp@example.com")
    secret = pyotp.random_base32()
    TotpDevice.objects.create(
        user=user, secret=secret, confirmed_at=timezone.now(), last_counter=-1
    )
    return user, secret


def reauth_by_sms(client: Client, sms_outbox, next_url: str):
    """Pass the real confirm page with the password and an SMS code; returns the response."""
    client.post(CONFIRM_URL, {"send_code": "1", "next": next_url})
    return client.post(
        CONFIRM_URL,
        {"password": DEFAULT_PASSWORD, "code": code_from_outbox(sms_outbox), "next": next_url},
    )


def shown_secret(response) -> str:
    match = SECRET.search(page(response))
    assert match, "no secret on the setup page"
    return match.group(1).replace(" ", "")


@pytest.fixture
def setup_client(client, user, sms_outbox) -> Client:
    """`user`, signed in and freshly re-authenticated for the setup page."""
    client.force_login(user)
    response = reauth_by_sms(client, sms_outbox, SETUP_URL)
    assert response["Location"] == SETUP_URL
    return client


def enable_totp(client: Client, now: float) -> str:
    """Open the setup page, confirm the shown secret with a code; returns the secret."""
    secret = shown_secret(client.get(SETUP_URL))
    response = client.post(SETUP_URL, {"code": code_at(secret, now)})
    assert response["Location"] == SECURITY_URL
    return secret


# --- setup -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_setup_needs_recent_reauthentication(client, user, method):
    client.force_login(user)

    response = getattr(client, method)(SETUP_URL, {"code": "123456"} if method == "post" else {})

    assert response.status_code == 302
    assert response["Location"] == f"{CONFIRM_URL}?next={SETUP_URL}"
    assert not TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


@pytest.mark.django_db
def test_setup_needs_a_sign_in(client):
    response = client.get(SETUP_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_setup_page_shows_an_inline_svg_qr_code_and_the_secret(setup_client, user):
    response = setup_client.get(SETUP_URL)
    html = page(response)

    assert response.status_code == 200
    qr = re.search(r'<figure class="qr">(.*?)</figure>', html, re.DOTALL)
    assert qr
    assert qr.group(1).lstrip().startswith("<svg")
    assert "<script" not in qr.group(1)
    assert "<img" not in html
    secret = shown_secret(response)
    assert len(secret) >= 16  # at least 80 bits
    device = TotpDevice.objects.get(user=user)
    assert device.secret == secret
    assert device.confirmed_at is None


def test_wrong_code_does_not_turn_the_app_on(setup_client, user, sms_outbox, totp_clock):
    secret = shown_secret(setup_client.get(SETUP_URL))

    response = setup_client.post(SETUP_URL, {"code": other_code(code_at(secret, totp_clock))})

    assert response.status_code == 200
    assert SETUP_WRONG in page(response)
    assert shown_secret(response) == secret  # the same secret, to try again
    assert TotpDevice.objects.get(user=user).confirmed_at is None
    assert not AuthEvent.objects.filter(kind=Kind.TOTP_ENABLED).exists()
    setup_client.post(LOGOUT_URL)
    assert sign_in_password(setup_client, user.email)["Location"] == VERIFY_URL


def test_code_of_another_secret_does_not_turn_the_app_on(setup_client, user, totp_clock):
    setup_client.get(SETUP_URL)

    response = setup_client.post(SETUP_URL, {"code": code_at(pyotp.random_base32(), totp_clock)})

    assert SETUP_WRONG in page(response)
    assert TotpDevice.objects.get(user=user).confirmed_at is None


def test_right_code_turns_the_app_on(setup_client, user, totp_clock):
    secret = shown_secret(setup_client.get(SETUP_URL))

    response = setup_client.post(SETUP_URL, {"code": code_at(secret, totp_clock)})

    assert response.status_code == 302
    assert response["Location"] == SECURITY_URL
    device = TotpDevice.objects.get(user=user)
    assert device.confirmed_at is not None
    assert AuthEvent.objects.filter(user=user, kind=Kind.TOTP_ENABLED).count() == 1
    security = page(setup_client.get(SECURITY_URL))
    assert "Your authenticator app is set up." in security
    assert REMOVE_URL in security


def test_setup_page_is_refused_once_an_app_is_on(setup_client, user, totp_clock):
    secret = enable_totp(setup_client, totp_clock)

    response = setup_client.get(SETUP_URL, follow=True)

    assert response.redirect_chain == [(SECURITY_URL, 302)]
    assert "An authenticator app is already set up." in page(response)
    assert TotpDevice.objects.get(user=user).secret == secret


def test_unconfirmed_setup_does_not_change_the_sign_in(setup_client, user, sms_outbox):
    setup_client.get(SETUP_URL)
    setup_client.post(LOGOUT_URL)
    sent = len(sms_outbox)

    response = sign_in_password(setup_client, user.email)

    assert response["Location"] == VERIFY_URL
    assert len(sms_outbox) == sent + 1


# --- sign-in ---------------------------------------------------------------------------


def test_sign_in_goes_to_the_app_without_an_sms(setup_client, user, sms_outbox, totp_clock):
    secret = enable_totp(setup_client, totp_clock)
    setup_client.post(LOGOUT_URL)
    sent = len(sms_outbox)

    response = sign_in_password(setup_client, user.email)

    assert response["Location"] == VERIFY_TOTP_URL
    assert len(sms_outbox) == sent
    verify = page(setup_client.get(VERIFY_TOTP_URL))
    assert "Send me a code by SMS instead" in verify
    signed = setup_client.post(VERIFY_TOTP_URL, {"code": code_at(secret, totp_clock, 1)})
    assert signed.status_code == 302
    assert signed["Location"] == "/"
    assert signed_in_as(setup_client) == str(user.pk)
    assert AuthEvent.objects.filter(user=user, kind=Kind.TOTP_OK).count() == 1
    assert len(sms_outbox) == sent


def test_sms_instead_sends_a_code_that_signs_in(client, totp_user, sms_outbox):
    user, _secret = totp_user
    sign_in_password(client, user.email)
    assert sms_outbox == []

    response = client.post(RESEND_URL)

    assert response["Location"] == VERIFY_URL
    assert [sms.to for sms in sms_outbox] == [user.phone_number]
    assert VERIFY_TOTP_URL in page(client.get(VERIFY_URL))  # the app is still offered
    signed = client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    assert signed["Location"] == "/"
    assert signed_in_as(client) == str(user.pk)


def test_totp_user_without_a_verified_phone_gets_no_sms(client, make_user, sms_outbox):
    user = make_user("appuser@example.com", phone_verified=False)
    TotpDevice.objects.create(user=user, secret=pyotp.random_base32(), confirmed_at=timezone.now())
    sign_in_password(client, user.email)

    page_html = page(client.get(VERIFY_TOTP_URL))
    client.post(RESEND_URL)

    assert "Send me a code by SMS instead" not in page_html
    assert sms_outbox == []


def test_code_replayed_in_the_same_step_is_refused(totp_user, totp_clock):
    user, secret = totp_user
    code = code_at(secret, totp_clock)
    first = Client()
    sign_in_password(first, user.email)
    assert first.post(VERIFY_TOTP_URL, {"code": code})["Location"] == "/"

    second = Client()
    sign_in_password(second, user.email)
    response = second.post(VERIFY_TOTP_URL, {"code": code})

    assert response.status_code == 200
    assert SIGN_IN_WRONG in page(response)
    assert signed_in_as(second) is None
    assert AuthEvent.objects.filter(user=user, kind=Kind.CODE_WRONG).count() == 1


def test_the_confirmation_code_cannot_be_replayed_at_sign_in(setup_client, user, totp_clock):
    secret = shown_secret(setup_client.get(SETUP_URL))
    code = code_at(secret, totp_clock)
    setup_client.post(SETUP_URL, {"code": code})
    setup_client.post(LOGOUT_URL)
    sign_in_password(setup_client, user.email)

    response = setup_client.post(VERIFY_TOTP_URL, {"code": code})

    assert SIGN_IN_WRONG in page(response)
    assert signed_in_as(setup_client) is None


def test_an_older_step_is_refused_after_a_newer_one_was_used(totp_user, totp_clock):
    user, secret = totp_user
    first = Client()
    sign_in_password(first, user.email)
    newer = first.post(VERIFY_TOTP_URL, {"code": code_at(secret, totp_clock, 1)})
    assert newer["Location"] == "/"

    second = Client()
    sign_in_password(second, user.email)
    response = second.post(VERIFY_TOTP_URL, {"code": code_at(secret, totp_clock)})

    assert SIGN_IN_WRONG in page(response)
    assert signed_in_as(second) is None


@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_one_step_either_side_is_accepted(client, totp_user, totp_clock, steps):
    user, secret = totp_user
    sign_in_password(client, user.email)

    response = client.post(VERIFY_TOTP_URL, {"code": code_at(secret, totp_clock, steps)})

    assert response.status_code == 302
    assert signed_in_as(client) == str(user.pk)


@pytest.mark.parametrize("steps", [-2, 2, -10, 10])
def test_two_or_more_steps_off_are_refused(client, totp_user, totp_clock, steps):
    user, secret = totp_user
    code = code_at(secret, totp_clock, steps)
    if code in {code_at(secret, totp_clock, s) for s in (-1, 0, 1)}:
        pytest.skip("the far code happens to equal a code inside the window")
    sign_in_password(client, user.email)

    response = client.post(VERIFY_TOTP_URL, {"code": code})

    assert response.status_code == 200
    assert SIGN_IN_WRONG in page(response)
    assert signed_in_as(client) is None


def test_wrong_app_codes_lock_the_account(client, totp_user, totp_clock, settings):
    settings.LOGIN_LOCK_THRESHOLD = 3
    user, secret = totp_user
    right = code_at(secret, totp_clock)
    sign_in_password(client, user.email)

    first = client.post(VERIFY_TOTP_URL, {"code": other_code(right)})
    client.post(VERIFY_TOTP_URL, {"code": other_code(other_code(right))})
    third = client.post(VERIFY_TOTP_URL, {"code": other_code(other_code(other_code(right)))})
    after = client.post(VERIFY_TOTP_URL, {"code": right})

    assert SIGN_IN_WRONG in page(first)
    assert third.status_code == 429
    assert LOCKED in page(third)
    assert after.status_code == 429
    assert LOCKED in page(after)
    assert signed_in_as(client) is None
    user.refresh_from_db()
    assert user.is_code_locked()
    assert AuthEvent.objects.filter(user=user, kind=Kind.LOCKED).count() == 1
    # A new sign-in is refused too, whatever the password.
    again = sign_in_password(Client(), user.email)
    assert LOCKED in page(again)


def test_wrong_app_codes_and_wrong_sms_codes_add_up(
    client, totp_user, totp_clock, sms_outbox, settings
):
    settings.LOGIN_LOCK_THRESHOLD = 2
    user, secret = totp_user
    sign_in_password(client, user.email)
    client.post(VERIFY_TOTP_URL, {"code": other_code(code_at(secret, totp_clock))})
    client.post(RESEND_URL)

    response = client.post(VERIFY_URL, {"code": other_code(code_from_outbox(sms_outbox))})

    assert response.status_code == 429
    assert LOCKED in page(response)


def test_malformed_app_codes_are_form_errors_and_not_counted(client, totp_user):
    user, _secret = totp_user
    sign_in_password(client, user.email)

    response = client.post(VERIFY_TOTP_URL, {"code": "12ab56"})

    assert "Enter the 6-digit code from your authenticator app" in page(response)
    user.refresh_from_db()
    assert user.code_failures == 0


# --- removal ---------------------------------------------------------------------------


def test_removal_needs_recent_reauthentication(client, totp_user):
    user, _secret = totp_user
    client.force_login(user)

    response = client.post(REMOVE_URL)

    assert response.status_code == 302
    # The removal is a POST, which cannot be replayed: back to the security page after.
    assert response["Location"] == f"{CONFIRM_URL}?next=/accounts/security/"
    assert TotpDevice.objects.filter(user=user).exists()
    assert not AuthEvent.objects.filter(kind=Kind.TOTP_REMOVED).exists()


def test_removal_after_reauthentication_with_the_app(client, totp_user, totp_clock, sms_outbox):
    user, secret = totp_user
    client.force_login(user)
    confirm = client.post(
        CONFIRM_URL,
        {"password": DEFAULT_PASSWORD, "code": code_at(secret, totp_clock), "next": SECURITY_URL},
    )
    assert confirm["Location"] == SECURITY_URL

    response = client.post(REMOVE_URL, follow=True)

    assert response.redirect_chain == [(SECURITY_URL, 302)]
    assert "Your authenticator app was removed." in page(response)
    assert not TotpDevice.objects.filter(user=user).exists()
    assert AuthEvent.objects.filter(user=user, kind=Kind.TOTP_REMOVED).count() == 1
    client.post(LOGOUT_URL)
    assert sign_in_password(client, user.email)["Location"] == VERIFY_URL
    assert len(sms_outbox) == 1


def test_remove_button_works_after_confirming(client, totp_user, totp_clock):
    """The security page's Remove button without a recent confirmation leads through the
    confirm page; after it the user must land on a working page, not a bare 405."""
    user, secret = totp_user
    client.force_login(user)
    to_confirm = client.post(REMOVE_URL)
    confirm_url = to_confirm["Location"]
    next_url = confirm_url.split("next=", 1)[1]

    confirmed = client.post(
        confirm_url,
        {"password": DEFAULT_PASSWORD, "code": code_at(secret, totp_clock), "next": next_url},
    )
    landing = client.get(confirmed["Location"], follow=True)

    assert landing.status_code == 200


def test_removal_by_get_is_not_allowed(client, totp_user, totp_clock):
    user, secret = totp_user
    client.force_login(user)
    client.post(
        CONFIRM_URL,
        {"password": DEFAULT_PASSWORD, "code": code_at(secret, totp_clock), "next": SECURITY_URL},
    )

    response = client.get(REMOVE_URL)

    assert response.status_code == 405
    assert TotpDevice.objects.filter(user=user).exists()
