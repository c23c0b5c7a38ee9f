"""The security page and the changes made from it: re-authentication, phone change and
password change."""

import time
from datetime import timedelta
from types import SimpleNamespace

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuthEvent, LoginCode, SmsSend, TotpDevice
from accounts.services import totp as totp_service
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox, sign_in_password

Kind = AuthEvent.Kind

LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
LOGOUT_URL = "/accounts/logout/"
SECURITY_URL = "/accounts/security/"
CONFIRM_URL = "/accounts/security/confirm/"
PHONE_URL = "/accounts/security/phone/"
PHONE_VERIFY_URL = "/accounts/security/phone/verify/"
PASSWORD_URL = "/accounts/security/password/"
CODES_URL = "/accounts/security/recovery/"
REAUTH_AT = "accounts_reauth_at"

OLD_PHONE = "+4915123456789"
NEW_PHONE = "+4917612345678"
THIRD_PHONE = "+4916012345678"
NEW_PASSWORD = "a-long-and-unusual-passphrase-91"

WRONG_PASSWORD = "Your password is not right."
WRONG_CODE = "That code is not right. Please check the SMS and try again."
PASSWORD_THROTTLED = "Too many failed sign-in attempts for this account."
CODE_TEXTED = "We sent a code to your phone."
NOTICE = "sign-in number was changed"


def page(response) -> str:
    return response.content.decode()


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def confirm_to(next_url: str) -> str:
    return f"{CONFIRM_URL}?next={next_url}"


def send_reauth_code(client: Client, next_url: str = SECURITY_URL):
    return client.post(CONFIRM_URL, {"send_code": "1", "next": next_url})


def confirm(client: Client, code: str, next_url: str = SECURITY_URL, password=DEFAULT_PASSWORD):
    return client.post(CONFIRM_URL, {"password": password, "code": code, "next": next_url})


def reauth_by_sms(client: Client, sms_outbox, next_url: str = SECURITY_URL):
    send_reauth_code(client, next_url)
    response = confirm(client, code_from_outbox(sms_outbox), next_url)
    assert response["Location"] == next_url
    return response


@pytest.fixture
def signed_in(client, user) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def totp_clock(monkeypatch) -> float:
    now = (int(time.time()) // 30) * 30 + 15
    monkeypatch.setattr(totp_service, "time", SimpleNamespace(time=lambda: now))
    return now


def set_reauth_age(client: Client, seconds: float) -> None:
    session = client.session
    session[REAUTH_AT] = time.time() - seconds
    session.save()


# --- the security page -----------------------------------------------------------------


@pytest.mark.django_db
def test_security_page_needs_a_sign_in(client):
    response = client.get(SECURITY_URL)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next={SECURITY_URL}"


def test_security_page_needs_more_than_the_password(pending_client):
    assert pending_client.get(SECURITY_URL)["Location"] == f"{LOGIN_URL}?next={SECURITY_URL}"


def test_security_page_shows_the_factors(signed_in, user):
    response = signed_in.get(SECURITY_URL)
    html = page(response)

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert user.masked_phone_number in html
    assert OLD_PHONE not in html
    assert "/accounts/security/totp/" in html  # "Set up": the app is off
    assert '<span id="recovery-left">0 left</span>' in html
    assert "No browser skips the code." in html
    assert PHONE_URL in html
    assert PASSWORD_URL in html


def test_security_page_shows_recent_events_of_this_user_only(signed_in, user, make_user):
    bob = make_user("bob@example.com")
    AuthEvent.objects.create(kind=Kind.PHONE_VERIFIED, user=user)
    AuthEvent.objects.create(kind=Kind.RECOVERY_USED, user=bob)

    html = page(signed_in.get(SECURITY_URL))

    assert "Phone verified" in html
    assert "Recovery code used" not in html


def test_security_page_says_when_the_phone_is_not_set_up(client, make_user):
    user = make_user("app@example.com", phone_verified=False)
    client.force_login(user)

    html = page(client.get(SECURITY_URL))

    assert "not set up" in html
    assert user.masked_phone_number not in html


# --- re-authentication -----------------------------------------------------------------


@pytest.mark.django_db
def test_confirm_page_needs_a_sign_in(client, sms_outbox):
    response = client.post(CONFIRM_URL, {"send_code": "1"})

    assert response["Location"].startswith(LOGIN_URL)
    assert sms_outbox == []


def test_confirm_page_offers_an_sms_to_the_verified_number(signed_in, user):
    html = page(signed_in.get(CONFIRM_URL, {"next": PHONE_URL}))

    assert 'name="send_code"' in html
    assert user.masked_phone_number in html
    assert f'name="next" value="{PHONE_URL}"' in html


def test_send_code_texts_the_verified_number(signed_in, user, sms_outbox):
    response = send_reauth_code(signed_in, PHONE_URL)

    assert response["Location"] == confirm_to(PHONE_URL)
    assert [sms.to for sms in sms_outbox] == [OLD_PHONE]
    assert CODE_TEXTED in page(signed_in.get(response["Location"]))
    assert AuthEvent.objects.filter(user=user, kind=Kind.CODE_SENT).count() == 1


def test_send_code_again_waits_for_the_cooldown(signed_in, sms_outbox):
    send_reauth_code(signed_in)

    again = signed_in.post(CONFIRM_URL, {"send_code": "1"}, follow=True)

    assert "Please wait" in page(again)
    assert len(sms_outbox) == 1


def test_password_and_sms_code_let_the_user_through(signed_in, user, sms_outbox):
    send_reauth_code(signed_in, PHONE_URL)

    response = confirm(signed_in, code_from_outbox(sms_outbox), PHONE_URL)

    assert response.status_code == 302
    assert response["Location"] == PHONE_URL
    assert signed_in.get(PHONE_URL).status_code == 200
    assert isinstance(signed_in.session[REAUTH_AT], float)
    assert AuthEvent.objects.filter(user=user, kind=Kind.REAUTH_OK).count() == 1


def test_password_and_app_code_let_the_user_through(client, make_user, totp_clock, sms_outbox):
    user = make_user("app@example.com")
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    client.force_login(user)

    response = confirm(client, pyotp.TOTP(secret).at(totp_clock), PHONE_URL)

    assert response["Location"] == PHONE_URL
    assert sms_outbox == []


def test_an_app_code_used_to_confirm_cannot_be_used_again(client, make_user, totp_clock):
    user = make_user("app@example.com")
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    client.force_login(user)
    code = pyotp.TOTP(secret).at(totp_clock)
    assert confirm(client, code)["Location"] == SECURITY_URL
    set_reauth_age(client, 10_000)

    response = confirm(client, code)

    assert response.status_code == 200
    assert REAUTH_AT in client.session  # the old, stale value
    assert client.get(PHONE_URL)["Location"] == confirm_to(PHONE_URL)


def test_wrong_password_is_refused(signed_in, user, sms_outbox):
    send_reauth_code(signed_in)

    response = confirm(signed_in, code_from_outbox(sms_outbox), password="not my password")

    assert response.status_code == 200
    assert WRONG_PASSWORD in page(response)
    assert REAUTH_AT not in signed_in.session
    assert AuthEvent.objects.filter(
        user=user, kind=Kind.PASSWORD_FAILED, detail="re-authentication"
    ).exists()
    # The SMS code was not used up by the failed attempt.
    assert confirm(signed_in, code_from_outbox(sms_outbox))["Location"] == SECURITY_URL


def test_wrong_passwords_count_toward_the_password_throttle(signed_in, user, settings):
    settings.PASSWORD_THROTTLE_THRESHOLD = 2
    for _ in range(2):
        confirm(signed_in, "123456", password="not my password")

    response = confirm(signed_in, "123456")
    login = sign_in_password(Client(), user.email)

    assert PASSWORD_THROTTLED in page(response)
    assert REAUTH_AT not in signed_in.session
    assert login.status_code == 429
    assert PASSWORD_THROTTLED in page(login)


def test_wrong_code_is_refused_and_counted(signed_in, user, sms_outbox):
    send_reauth_code(signed_in)

    response = confirm(signed_in, wrong_code(code_from_outbox(sms_outbox)))

    assert response.status_code == 200
    assert WRONG_CODE in page(response)
    assert REAUTH_AT not in signed_in.session
    user.refresh_from_db()
    assert user.code_failures == 1
    assert AuthEvent.objects.filter(user=user, kind=Kind.CODE_WRONG).count() == 1


def test_a_code_is_needed_besides_the_password(signed_in, user):
    response = signed_in.post(CONFIRM_URL, {"password": DEFAULT_PASSWORD, "next": PHONE_URL})
    without_sms = confirm(signed_in, "123456", PHONE_URL)

    assert response.status_code == 200
    assert "This field is required." in page(response)
    assert WRONG_CODE in page(without_sms)  # no SMS was asked for, so no code can match
    assert REAUTH_AT not in signed_in.session
    assert not AuthEvent.objects.filter(kind=Kind.REAUTH_OK).exists()


def test_wrong_codes_lock_the_account(signed_in, user, sms_outbox, settings):
    settings.LOGIN_LOCK_THRESHOLD = 2
    send_reauth_code(signed_in)
    code = code_from_outbox(sms_outbox)
    confirm(signed_in, wrong_code(code))
    confirm(signed_in, wrong_code(code))

    response = confirm(signed_in, code)

    assert "temporarily blocked" in page(response)
    assert REAUTH_AT not in signed_in.session
    user.refresh_from_db()
    assert user.is_code_locked()


def test_sign_in_code_cannot_be_used_to_confirm(client, user, sms_outbox):
    sign_in_password(client, user.email)
    code = code_from_outbox(sms_outbox)
    # The browser is not signed in yet; a second browser is, and tries the same code.
    other = Client()
    other.force_login(user)

    response = confirm(other, code)

    assert response.status_code == 200
    assert REAUTH_AT not in other.session


def test_reauthentication_lasts_about_five_minutes(signed_in, sms_outbox):
    reauth_by_sms(signed_in, sms_outbox, PHONE_URL)

    set_reauth_age(signed_in, 240)
    fresh = signed_in.get(PHONE_URL)
    set_reauth_age(signed_in, 301)
    stale = signed_in.get(PHONE_URL)

    assert fresh.status_code == 200
    assert stale.status_code == 302
    assert stale["Location"] == confirm_to(PHONE_URL)


def test_reauthentication_from_the_future_does_not_count(signed_in, sms_outbox):
    set_reauth_age(signed_in, -3600)

    assert signed_in.get(PHONE_URL)["Location"] == confirm_to(PHONE_URL)


def test_reauthentication_ends_with_the_session(signed_in, user, sms_outbox):
    reauth_by_sms(signed_in, sms_outbox, PHONE_URL)
    signed_in.post(LOGOUT_URL)
    signed_in.force_login(user)

    assert signed_in.get(PHONE_URL)["Location"] == confirm_to(PHONE_URL)


@pytest.mark.parametrize(
    "evil_next",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_unsafe_next_falls_back_to_the_security_page(signed_in, sms_outbox, evil_next):
    send_reauth_code(signed_in, evil_next)

    response = confirm(signed_in, code_from_outbox(sms_outbox), evil_next)

    assert response.status_code == 302
    assert response["Location"] == SECURITY_URL


def test_reauth_code_is_not_sent_to_an_unverified_number(client, make_user, sms_outbox):
    """An app user whose number an admin typed in but who never confirmed it: the confirm
    page offers no SMS, and a hand-made send_code POST must not text that number."""
    user = make_user("app@example.com", phone_number=OLD_PHONE, phone_verified=False)
    TotpDevice.objects.create(user=user, secret=pyotp.random_base32(), confirmed_at=timezone.now())
    client.force_login(user)
    assert 'name="send_code"' not in page(client.get(CONFIRM_URL))

    client.post(CONFIRM_URL, {"send_code": "1"})

    assert sms_outbox == []


# --- phone change ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_phone_change_needs_reauthentication(signed_in, user, sms_outbox, method):
    data = {"phone_number": NEW_PHONE} if method == "post" else {}

    response = getattr(signed_in, method)(PHONE_URL, data)

    assert response.status_code == 302
    assert response["Location"] == confirm_to(PHONE_URL)
    assert sms_outbox == []
    user.refresh_from_db()
    assert user.phone_number == OLD_PHONE


def test_phone_change_verify_needs_reauthentication(signed_in, user, sms_outbox):
    response = signed_in.post(PHONE_VERIFY_URL, {"code": "123456"})

    assert response["Location"] == confirm_to(PHONE_VERIFY_URL)


@pytest.fixture
def changing(signed_in, sms_outbox) -> Client:
    """Signed in, re-authenticated, and a code sent to NEW_PHONE."""
    reauth_by_sms(signed_in, sms_outbox, PHONE_URL)
    response = signed_in.post(PHONE_URL, {"phone_number": "0176 12345678"})
    assert response["Location"] == PHONE_VERIFY_URL
    return signed_in


def test_new_number_gets_a_code(changing, user, sms_outbox):
    assert sms_outbox[-1].to == NEW_PHONE
    html = page(changing.get(PHONE_VERIFY_URL))
    assert "+49 •••••••••78" in html
    assert NEW_PHONE not in html
    user.refresh_from_db()
    assert user.phone_number == OLD_PHONE


@pytest.mark.parametrize(
    "number", ["12345", "+44 7400 123456", "+49 30 12345678"], ids=["invalid", "GB", "landline"]
)
def test_unusable_new_number_is_a_form_error(signed_in, sms_outbox, number):
    reauth_by_sms(signed_in, sms_outbox, PHONE_URL)
    sent = len(sms_outbox)

    response = signed_in.post(PHONE_URL, {"phone_number": number})

    assert response.status_code == 200
    assert 'class="field-errors"' in page(response)
    assert len(sms_outbox) == sent


def test_wrong_code_does_not_change_the_number(changing, user, sms_outbox):
    response = changing.post(PHONE_VERIFY_URL, {"code": wrong_code(code_from_outbox(sms_outbox))})

    assert response.status_code == 200
    assert WRONG_CODE in page(response)
    user.refresh_from_db()
    assert user.phone_number == OLD_PHONE
    assert user.code_failures == 1
    assert not AuthEvent.objects.filter(kind=Kind.PHONE_CHANGED).exists()
    assert [sms.to for sms in sms_outbox if NOTICE in sms.text] == []


def test_right_code_changes_and_verifies_the_number(user, sms_outbox):
    other = Client()
    other.force_login(user)
    assert other.get("/").status_code == 200
    current = Client()
    current.force_login(user)
    reauth_by_sms(current, sms_outbox, PHONE_URL)
    current.post(PHONE_URL, {"phone_number": NEW_PHONE})

    response = current.post(PHONE_VERIFY_URL, {"code": code_from_outbox(sms_outbox)}, follow=True)

    assert response.redirect_chain == [(SECURITY_URL, 302)]
    assert "Your phone number was changed." in page(response)
    user.refresh_from_db()
    assert user.phone_number == NEW_PHONE
    assert user.phone_verified_at is not None
    assert signed_in_as(current) == str(user.pk)
    assert current.get("/").status_code == 200
    assert other.get("/")["Location"] == f"{LOGIN_URL}?next=/"
    notice = sms_outbox[-1]
    assert notice.to == OLD_PHONE
    assert NOTICE in notice.text
    assert "login code" not in notice.text
    assert AuthEvent.objects.filter(user=user, kind=Kind.PHONE_CHANGED).count() == 1
    assert AuthEvent.objects.filter(user=user, kind=Kind.PHONE_VERIFIED).count() == 1
    assert SmsSend.objects.filter(phone_number=OLD_PHONE, purpose="notice").count() == 1


def test_after_a_phone_change_sign_in_codes_go_to_the_new_number(changing, user, sms_outbox):
    changing.post(PHONE_VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    changing.post(LOGOUT_URL)

    sign_in_password(changing, user.email)

    assert sms_outbox[-1].to == NEW_PHONE
    assert "login code" in sms_outbox[-1].text


def test_phone_change_verify_without_a_change_under_way(signed_in, sms_outbox):
    reauth_by_sms(signed_in, sms_outbox, PHONE_URL)

    get = signed_in.get(PHONE_VERIFY_URL)
    post = signed_in.post(PHONE_VERIFY_URL, {"code": "123456"}, follow=True)

    assert get["Location"] == PHONE_URL
    assert post.redirect_chain[-1] == (PHONE_URL, 302)
    assert "Your phone change has expired." in page(post)


def test_phone_change_code_works_only_in_its_session(changing, user, sms_outbox):
    code = code_from_outbox(sms_outbox)
    other = Client()
    other.force_login(user)
    reauth_by_sms(other, sms_outbox, PHONE_URL)
    # The other session has no change under way; the code of the first one is no use there.
    response = other.post(PHONE_VERIFY_URL, {"code": code})

    assert response["Location"] == PHONE_URL
    user.refresh_from_db()
    assert user.phone_number == OLD_PHONE


def test_phone_change_resend_waits_for_the_cooldown(changing, sms_outbox):
    sent = len(sms_outbox)

    response = changing.post(PHONE_URL, {"phone_number": NEW_PHONE})

    assert response.status_code == 200
    assert "Please wait" in page(response)
    assert len(sms_outbox) == sent


def test_alternating_numbers_does_not_skip_the_cooldown(changing, sms_outbox):
    """Switching between two new numbers must not reset the resend limits each time."""
    changing.post(PHONE_URL, {"phone_number": THIRD_PHONE})
    changing.post(PHONE_URL, {"phone_number": NEW_PHONE})
    changing.post(PHONE_URL, {"phone_number": THIRD_PHONE})

    codes_sent = [sms.to for sms in sms_outbox if "login code" in sms.text]
    assert codes_sent.count(NEW_PHONE) + codes_sent.count(THIRD_PHONE) == 1


def test_a_refused_new_number_cannot_be_confirmed_with_an_earlier_code(
    changing, user, sms_outbox, settings
):
    code = code_from_outbox(sms_outbox)  # texted to NEW_PHONE
    settings.SMS_PER_PHONE_DAILY = 1
    SmsSend.objects.create(phone_number=THIRD_PHONE, purpose=SmsSend.Purpose.LOGIN)
    refused = changing.post(PHONE_URL, {"phone_number": THIRD_PHONE})
    # One challenge serves the whole change, so its resend cooldown refuses first.
    assert "before requesting a new code" in page(refused)

    changing.post(PHONE_VERIFY_URL, {"code": code})

    user.refresh_from_db()
    assert user.phone_number != THIRD_PHONE


def test_phone_change_code_expires_with_the_code_ttl(changing, user, sms_outbox):
    LoginCode.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = changing.post(PHONE_VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert "This code has expired." in page(response)
    user.refresh_from_db()
    assert user.phone_number == OLD_PHONE


# --- password change -------------------------------------------------------------------


def change_password(client: Client, old: str = DEFAULT_PASSWORD, new: str = NEW_PASSWORD):
    return client.post(
        PASSWORD_URL, {"old_password": old, "new_password1": new, "new_password2": new}
    )


@pytest.mark.django_db
def test_password_change_needs_a_sign_in(client):
    assert client.get(PASSWORD_URL)["Location"].startswith(LOGIN_URL)


def test_password_change_needs_the_current_password(signed_in, user):
    response = change_password(signed_in, old="not my password")

    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in page(response)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert not AuthEvent.objects.filter(kind=Kind.PASSWORD_CHANGED).exists()


def test_password_change_rejects_a_weak_password(signed_in, user):
    response = change_password(signed_in, new="password")

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_ends_other_sessions_and_is_audited(user, sms_outbox):
    other = Client()
    other.force_login(user)
    current = Client()
    current.force_login(user)

    response = change_password(current)

    assert response["Location"] == SECURITY_URL
    assert "Your password was changed." in page(current.get(SECURITY_URL))
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert current.get("/").status_code == 200
    assert other.get("/")["Location"] == f"{LOGIN_URL}?next=/"
    assert AuthEvent.objects.filter(user=user, kind=Kind.PASSWORD_CHANGED).count() == 1


def test_new_password_still_needs_the_second_factor(signed_in, user, sms_outbox):
    change_password(signed_in)
    signed_in.post(LOGOUT_URL)

    old = sign_in_password(signed_in, user.email)
    new = sign_in_password(signed_in, user.email, NEW_PASSWORD)

    assert old.status_code == 200
    assert new["Location"] == VERIFY_URL
    assert signed_in_as(signed_in) is None


def test_wrong_current_passwords_count_toward_the_password_throttle(signed_in, user, settings):
    """The change form checks the password like the sign-in does, so it must be throttled
    like it: otherwise a stolen session can guess the password without limit."""
    settings.PASSWORD_THROTTLE_THRESHOLD = 2
    for _ in range(2):
        change_password(signed_in, old="not my password")

    response = change_password(signed_in)

    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert PASSWORD_THROTTLED in page(response)


def test_codes_page_link_is_on_the_security_page(signed_in):
    assert CODES_URL in page(signed_in.get(SECURITY_URL))
