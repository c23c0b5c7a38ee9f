"""Remembered browsers: the opt-in checkbox, the signed cookie and its server-side record,
what it skips (only the code, never the password), and every way it is revoked."""

import secrets
import time
from datetime import timedelta
from types import SimpleNamespace

import pyotp
import pytest
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.utils import timezone

from accounts.models import AuthEvent, TotpDevice, TrustedBrowser, User
from accounts.services import totp as totp_service
from accounts.services.trusted import COOKIE_NAME, COOKIE_SALT
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox, sign_in_password

Kind = AuthEvent.Kind

LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
VERIFY_TOTP_URL = "/accounts/login/verify/totp/"
LOGOUT_URL = "/accounts/logout/"
SECURITY_URL = "/accounts/security/"
CONFIRM_URL = "/accounts/security/confirm/"
PHONE_URL = "/accounts/security/phone/"
PHONE_VERIFY_URL = "/accounts/security/phone/verify/"
PASSWORD_URL = "/accounts/security/password/"
USERS_ADMIN_URL = "/admin/accounts/user/"

CHECKBOX_LABEL = "Don&#x27;t ask for a code on this browser for 30 days"
WRONG_LOGIN = "Please enter a correct email address and password."
LOCKED = "Sign-in to this account is temporarily blocked"
NEW_PASSWORD = "a-long-and-unusual-passphrase-91"
NEW_PHONE = "+4917612345678"
AGENT = "Mozilla/5.0 (TestBrowser 1.0)"
THIRTY_DAYS = 30 * 24 * 3600


def page(response) -> str:
    return response.content.decode()


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def sign_cookie(value: str) -> str:
    """Return `value` signed the way the site signs the cookie (needs SECRET_KEY)."""
    response = HttpResponse()
    response.set_signed_cookie(COOKIE_NAME, value, salt=COOKIE_SALT)
    return response.cookies[COOKIE_NAME].value


def unsign_cookie(signed: str) -> str:
    """Return the value inside a signed cookie; raises BadSignature if it is not valid."""
    request = HttpRequest()
    request.COOKIES[COOKIE_NAME] = signed
    return request.get_signed_cookie(COOKIE_NAME, salt=COOKIE_SALT)


def remember(client: Client, user: User, sms_outbox, **extra):
    """Sign in by SMS with the checkbox ticked; returns the verify response."""
    response = sign_in_password(client, user.email)
    assert response["Location"] == VERIFY_URL
    return client.post(
        VERIFY_URL, {"code": code_from_outbox(sms_outbox), "remember": "on", **extra}
    )


@pytest.fixture
def remembered(user, sms_outbox) -> Client:
    """A browser that `user` remembered, signed out again; it keeps the cookie."""
    browser = Client(HTTP_USER_AGENT=AGENT)
    response = remember(browser, user, sms_outbox)
    assert COOKIE_NAME in response.cookies
    browser.post(LOGOUT_URL)
    assert COOKIE_NAME in browser.cookies
    return browser


def reauth_by_sms(client: Client, sms_outbox, next_url: str):
    client.post(CONFIRM_URL, {"send_code": "1", "next": next_url})
    response = client.post(
        CONFIRM_URL,
        {"password": DEFAULT_PASSWORD, "code": code_from_outbox(sms_outbox), "next": next_url},
    )
    assert response["Location"] == next_url


def asks_for_a_code(client: Client, user: User, sms_outbox, password=DEFAULT_PASSWORD) -> bool:
    """Sign in with the password; tell whether a code is asked for (and not signed in)."""
    sent = len(sms_outbox)
    response = sign_in_password(client, user.email, password)
    if response.status_code == 302 and response["Location"] == VERIFY_URL:
        assert signed_in_as(client) is None
        assert len(sms_outbox) == sent + 1
        return True
    assert response["Location"] == "/"
    assert signed_in_as(client) == str(user.pk)
    return False


# --- the checkbox and the cookie -------------------------------------------------------


def test_checkbox_is_offered_on_the_sms_verify_page(pending_client):
    html = page(pending_client.get(VERIFY_URL))

    assert 'name="remember"' in html
    assert CHECKBOX_LABEL in html


def test_checkbox_is_offered_on_the_app_verify_page(client, make_user):
    user = make_user("app@example.com")
    TotpDevice.objects.create(user=user, secret=pyotp.random_base32(), confirmed_at=timezone.now())
    sign_in_password(client, user.email)

    html = page(client.get(VERIFY_TOTP_URL))

    assert 'name="remember"' in html
    assert CHECKBOX_LABEL in html


def test_ticking_the_box_sets_a_signed_httponly_cookie(client, user, sms_outbox):
    response = remember(client, user, sms_outbox)

    assert response["Location"] == "/"
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == THIRTY_DAYS
    user_id, token = unsign_cookie(cookie.value).split(":", 1)
    assert user_id == str(user.pk)
    record = TrustedBrowser.objects.get(user=user)
    assert token not in record.token_hash
    assert record.revoked_at is None
    assert timedelta(days=29) < record.expires_at - timezone.now() <= timedelta(days=30)


def test_remembering_a_browser_is_audited(client, user, sms_outbox):
    remember(client, user, sms_outbox)

    assert AuthEvent.objects.filter(user=user, kind=Kind.TRUSTED_BROWSER_ADDED).count() == 1


def test_without_the_box_nothing_is_remembered(pending_client, user, sms_outbox):
    response = pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response["Location"] == "/"
    assert COOKIE_NAME not in response.cookies
    assert not TrustedBrowser.objects.exists()


def test_a_wrong_code_with_the_box_remembers_nothing(pending_client, sms_outbox):
    code = code_from_outbox(sms_outbox)

    response = pending_client.post(
        VERIFY_URL, {"code": f"{(int(code) + 1) % 10**6:06d}", "remember": "on"}
    )

    assert response.status_code == 200
    assert COOKIE_NAME not in response.cookies
    assert not TrustedBrowser.objects.exists()


def test_app_sign_in_can_remember_the_browser(client, make_user, sms_outbox, monkeypatch):
    now = (int(time.time()) // 30) * 30 + 15
    monkeypatch.setattr(totp_service, "time", SimpleNamespace(time=lambda: now))
    user = make_user("app@example.com")
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    sign_in_password(client, user.email)

    response = client.post(VERIFY_TOTP_URL, {"code": pyotp.TOTP(secret).at(now), "remember": "on"})
    client.post(LOGOUT_URL)
    again = sign_in_password(client, user.email)

    assert COOKIE_NAME in response.cookies
    assert again["Location"] == "/"
    assert signed_in_as(client) == str(user.pk)
    assert sms_outbox == []


# --- what the cookie skips -------------------------------------------------------------


def test_next_sign_in_needs_only_the_password(remembered, user, sms_outbox):
    sent = len(sms_outbox)

    response = sign_in_password(remembered, user.email)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_as(remembered) == str(user.pk)
    assert len(sms_outbox) == sent
    assert AuthEvent.objects.filter(user=user, kind=Kind.TRUSTED_BROWSER_USED).count() == 1
    assert TrustedBrowser.objects.get(user=user).last_used_at is not None


def test_remembered_sign_in_follows_a_safe_next(remembered, user):
    response = sign_in_password(remembered, user.email, next_url=SECURITY_URL)

    assert response["Location"] == SECURITY_URL


def test_remembered_browser_still_needs_the_right_password(remembered, user, sms_outbox):
    sent = len(sms_outbox)

    response = sign_in_password(remembered, user.email, "not the password at all")

    assert response.status_code == 200
    assert WRONG_LOGIN in page(response)
    assert signed_in_as(remembered) is None
    assert len(sms_outbox) == sent
    assert not AuthEvent.objects.filter(kind=Kind.TRUSTED_BROWSER_USED).exists()


def test_remembered_browser_does_not_skip_the_account_lock(remembered, user, sms_outbox):
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() + timedelta(hours=1))

    response = sign_in_password(remembered, user.email)

    assert LOCKED in page(response)
    assert signed_in_as(remembered) is None


def test_another_browser_without_the_cookie_needs_a_code(remembered, user, sms_outbox):
    assert asks_for_a_code(Client(), user, sms_outbox)


def test_an_unsigned_cookie_does_not_skip_the_code(user, sms_outbox, remembered):
    token_only = unsign_cookie(remembered.cookies[COOKIE_NAME].value)
    forged = Client()
    forged.cookies[COOKIE_NAME] = token_only

    assert asks_for_a_code(forged, user, sms_outbox)


def test_a_tampered_cookie_does_not_skip_the_code(remembered, user, sms_outbox):
    value = remembered.cookies[COOKIE_NAME].value
    user_id, token, rest = value.split(":", 2)
    flipped = ("A" if token[0] != "A" else "B") + token[1:]
    remembered.cookies[COOKIE_NAME] = f"{user_id}:{flipped}:{rest}"

    assert asks_for_a_code(remembered, user, sms_outbox)


def test_a_signed_cookie_with_an_unknown_token_does_not_skip_the_code(user, sms_outbox):
    forged = Client()
    forged.cookies[COOKIE_NAME] = sign_cookie(f"{user.pk}:{secrets.token_urlsafe(32)}")

    assert asks_for_a_code(forged, user, sms_outbox)


def test_a_cookie_of_another_user_does_not_skip_the_code(remembered, make_user, sms_outbox):
    bob = make_user("bob@example.com", phone_number="+4915122222222")
    browser = Client()
    browser.cookies[COOKIE_NAME] = remembered.cookies[COOKIE_NAME].value

    assert asks_for_a_code(browser, bob, sms_outbox)


def test_a_cookie_relabelled_for_another_user_does_not_skip_the_code(
    remembered, make_user, sms_outbox
):
    bob = make_user("bob@example.com", phone_number="+4915122222222")
    _user_id, token = unsign_cookie(remembered.cookies[COOKIE_NAME].value).split(":", 1)
    browser = Client()
    browser.cookies[COOKIE_NAME] = sign_cookie(f"{bob.pk}:{token}")

    assert asks_for_a_code(browser, bob, sms_outbox)


def test_an_expired_record_does_not_skip_the_code(remembered, user, sms_outbox):
    TrustedBrowser.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert asks_for_a_code(remembered, user, sms_outbox)
    remembered.force_login(user)
    assert "No browser skips the code." in page(remembered.get(SECURITY_URL))


def test_a_cookie_older_than_30_days_does_not_skip_the_code(
    remembered, user, sms_outbox, monkeypatch
):
    # The record is still valid; the cookie's own signature timestamp is too old.
    value = unsign_cookie(remembered.cookies[COOKIE_NAME].value)
    long_ago = time.time() - THIRTY_DAYS - 60
    with monkeypatch.context() as patch:
        patch.setattr(signing, "time", SimpleNamespace(time=lambda: long_ago))
        remembered.cookies[COOKIE_NAME] = sign_cookie(value)

    assert asks_for_a_code(remembered, user, sms_outbox)


def test_remembering_is_not_offered_during_enrollment(client, make_user, sms_outbox):
    new = make_user("new@example.com", phone_number="", phone_verified=False)
    sign_in_password(client, new.email)
    client.post("/accounts/enroll/", {"phone_number": NEW_PHONE})

    verify = client.get(VERIFY_URL)
    response = client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox), "remember": "on"})

    assert 'name="remember"' not in page(verify)
    assert response["Location"] == "/"
    assert COOKIE_NAME not in response.cookies
    assert not TrustedBrowser.objects.exists()


# --- revoking --------------------------------------------------------------------------


def test_security_page_lists_the_remembered_browser(remembered, user):
    remembered.force_login(user)
    record = TrustedBrowser.objects.get(user=user)

    html = page(remembered.get(SECURITY_URL))

    assert AGENT in html
    assert f"/accounts/security/browsers/{record.pk}/revoke/" in html


def test_user_revokes_it_on_the_security_page(remembered, user, sms_outbox):
    remembered.force_login(user)
    record = TrustedBrowser.objects.get(user=user)

    response = remembered.post(f"/accounts/security/browsers/{record.pk}/revoke/", follow=True)

    assert response.redirect_chain == [(SECURITY_URL, 302)]
    assert "That browser will be asked for a code again." in page(response)
    assert "No browser skips the code." in page(response)
    record.refresh_from_db()
    assert record.revoked_at is not None
    assert AuthEvent.objects.filter(user=user, kind=Kind.TRUSTED_BROWSER_REVOKED).count() == 1
    remembered.post(LOGOUT_URL)
    assert asks_for_a_code(remembered, user, sms_outbox)


def test_revoking_by_get_is_not_allowed(remembered, user):
    remembered.force_login(user)
    record = TrustedBrowser.objects.get(user=user)

    response = remembered.get(f"/accounts/security/browsers/{record.pk}/revoke/")

    assert response.status_code == 405
    record.refresh_from_db()
    assert record.revoked_at is None


@pytest.mark.django_db
def test_revoking_needs_a_sign_in(remembered, user):
    record = TrustedBrowser.objects.get(user=user)

    response = Client().post(f"/accounts/security/browsers/{record.pk}/revoke/")

    assert response["Location"].startswith(LOGIN_URL)
    record.refresh_from_db()
    assert record.revoked_at is None


def test_a_user_cannot_revoke_another_users_browser(remembered, user, make_user, sms_outbox):
    bob = make_user("bob@example.com", phone_number="+4915122222222")
    record = TrustedBrowser.objects.get(user=user)
    attacker = Client()
    attacker.force_login(bob)

    response = attacker.post(f"/accounts/security/browsers/{record.pk}/revoke/")

    assert response["Location"] == SECURITY_URL
    record.refresh_from_db()
    assert record.revoked_at is None
    assert not AuthEvent.objects.filter(kind=Kind.TRUSTED_BROWSER_REVOKED).exists()
    assert not asks_for_a_code(remembered, user, sms_outbox)


def test_a_password_change_revokes_it(remembered, user, sms_outbox):
    remembered.force_login(user)
    response = remembered.post(
        PASSWORD_URL,
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response["Location"] == SECURITY_URL
    remembered.post(LOGOUT_URL)

    assert asks_for_a_code(remembered, user, sms_outbox, password=NEW_PASSWORD)


def test_a_phone_change_revokes_it(remembered, user, sms_outbox):
    assert sign_in_password(remembered, user.email)["Location"] == "/"
    reauth_by_sms(remembered, sms_outbox, PHONE_URL)
    remembered.post(PHONE_URL, {"phone_number": NEW_PHONE})
    changed = remembered.post(PHONE_VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    assert changed["Location"] == SECURITY_URL
    remembered.post(LOGOUT_URL)

    assert asks_for_a_code(remembered, user, sms_outbox)
    assert sms_outbox[-1].to == NEW_PHONE


def run_admin_action(staff_user: User, action: str, user: User):
    admin = Client()
    admin.force_login(staff_user)
    response = admin.post(
        USERS_ADMIN_URL, {"action": action, "_selected_action": [user.pk], "index": "0"}
    )
    assert response.status_code == 302
    return response


def test_admin_sign_out_everywhere_revokes_it(remembered, user, staff_user, sms_outbox):
    run_admin_action(staff_user, "end_all_sessions", user)

    assert asks_for_a_code(remembered, user, sms_outbox)


def test_admin_revoke_action_revokes_it(remembered, user, staff_user, sms_outbox):
    run_admin_action(staff_user, "revoke_trusted_browsers", user)

    assert TrustedBrowser.objects.get(user=user).revoked_at is not None
    assert asks_for_a_code(remembered, user, sms_outbox)


def test_admin_revoke_action_leaves_other_users_alone(
    remembered, user, staff_user, make_user, sms_outbox
):
    bob = make_user("bob@example.com", phone_number="+4915122222222")

    run_admin_action(staff_user, "revoke_trusted_browsers", bob)

    assert TrustedBrowser.objects.get(user=user).revoked_at is None
    assert not asks_for_a_code(remembered, user, sms_outbox)


def test_a_revoked_cookie_stays_revoked_after_a_new_code(remembered, user, sms_outbox):
    """Signing in again with a code (without the box) does not revive the old record."""
    TrustedBrowser.objects.update(revoked_at=timezone.now())
    assert asks_for_a_code(remembered, user, sms_outbox)
    remembered.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    remembered.post(LOGOUT_URL)

    assert asks_for_a_code(remembered, user, sms_outbox)


def test_cookie_value_never_appears_on_the_security_page(remembered, user):
    remembered.force_login(user)
    value = remembered.cookies[COOKIE_NAME].value
    token = value.split(":")[1]

    html = page(remembered.get(SECURITY_URL))

    assert token not in html
    assert value not in html
