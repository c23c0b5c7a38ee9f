"""First-time enrollment: a user without a verified phone confirms one before signing in.

Covers users created without a number and numbers set by an administrator but never
confirmed. Login codes go only to verified numbers; the enrollment number gets a code under
the same limits (cooldown, per-phone quota, account lock) as a sign-in.
"""

import re

import pytest
from django.test import Client

from accounts.models import AuthEvent, SmsSend, TrustedBrowser, User
from tests.conftest import code_from_outbox, sign_in_password

Kind = AuthEvent.Kind

LOGIN_URL = "/accounts/login/"
ENROLL_URL = "/accounts/enroll/"
VERIFY_URL = "/accounts/login/verify/"
RESEND_URL = "/accounts/login/resend/"
PENDING_KEY = "accounts_pending_login"

NEW_PHONE = "+4917612345678"
ADMIN_PHONE = "+4915123456789"
OTHER_PHONE = "+4916012345678"

WRONG_LOGIN = "Please enter a correct email address and password."
INVALID_PHONE = "Enter a valid phone number, for example +49 151 23456789."
COUNTRY_NOT_ALLOWED = "Codes can only be sent to numbers from DE, AT, CH."
NOT_MOBILE = "Enter a mobile number: landline, premium-rate and shared-cost numbers"
WRONG_CODE = "That code is not right. Please check the SMS and try again."
PHONE_LIMIT = "Too many codes were sent to this phone in the last 24 hours."
LOCKED = "Sign-in to this account is temporarily blocked"
WAIT = re.compile(r"Please wait \d+ seconds? before requesting a new code\.")


def page(response) -> str:
    return response.content.decode()


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def phone_input(html: str) -> str:
    match = re.search(r"<input[^>]*name=\"phone_number\"[^>]*>", html)
    assert match, "no phone_number input on the page"
    return match.group(0)


@pytest.fixture
def new_user(make_user) -> User:
    """A user an admin created without any phone number."""
    return make_user("new@example.com", phone_number="", phone_verified=False)


@pytest.fixture
def preset_user(make_user) -> User:
    """A user whose number an admin typed in, but who never confirmed it."""
    return make_user("preset@example.com", phone_number=ADMIN_PHONE, phone_verified=False)


@pytest.fixture
def enrolling_client(client, new_user, sms_outbox) -> Client:
    """A browser that passed the password step of `new_user` and is on enrollment."""
    response = sign_in_password(client, new_user.email)
    assert response["Location"] == ENROLL_URL
    return client


# --- getting to enrollment -------------------------------------------------------------


def test_user_without_phone_goes_to_enrollment_after_the_right_password(
    client, new_user, sms_outbox
):
    response = sign_in_password(client, new_user.email)

    assert response.status_code == 302
    assert response["Location"] == ENROLL_URL
    assert sms_outbox == []
    assert signed_in_as(client) is None
    enroll = client.get(ENROLL_URL)
    assert enroll.status_code == 200
    assert "Set up your phone" in page(enroll)
    assert "disabled" not in phone_input(page(enroll))


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_enrollment_is_not_reachable_before_the_password(client, sms_outbox, method):
    data = {"phone_number": NEW_PHONE} if method == "post" else {}

    response = getattr(client, method)(ENROLL_URL, data)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert sms_outbox == []


def test_wrong_password_gives_the_generic_error_not_enrollment(client, new_user, sms_outbox):
    response = sign_in_password(client, new_user.email, "not the password at all")

    assert response.status_code == 200
    assert WRONG_LOGIN in page(response)
    assert PENDING_KEY not in client.session
    assert client.get(ENROLL_URL)["Location"] == LOGIN_URL
    assert sms_outbox == []


def test_unknown_email_gives_the_same_error_as_a_user_without_phone(client, new_user):
    unknown = sign_in_password(client, "nobody@example.com", "not the password at all")
    wrong = sign_in_password(client, new_user.email, "not the password at all")

    assert WRONG_LOGIN in page(unknown)
    assert WRONG_LOGIN in page(wrong)


def test_verified_user_is_not_sent_to_enrollment(client, user, sms_outbox):
    response = sign_in_password(client, user.email)

    assert response["Location"] == VERIFY_URL
    assert client.get(ENROLL_URL)["Location"] == VERIFY_URL
    assert [sms.to for sms in sms_outbox] == [user.phone_number]


# --- entering the number ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "error"),
    [
        ("12345", INVALID_PHONE),
        ("not a number", INVALID_PHONE),
        ("+44 7400 123456", COUNTRY_NOT_ALLOWED),
        ("+49 30 12345678", NOT_MOBILE),
    ],
    ids=["too-short", "letters", "foreign-country", "landline"],
)
def test_unusable_number_is_a_form_error_and_nothing_is_sent(
    enrolling_client, new_user, sms_outbox, number, error
):
    response = enrolling_client.post(ENROLL_URL, {"phone_number": number})

    assert response.status_code == 200
    assert error in page(response)
    assert sms_outbox == []
    assert not SmsSend.objects.exists()
    assert enrolling_client.session[PENDING_KEY]["phone_number"] == ""
    new_user.refresh_from_db()
    assert new_user.phone_number == ""
    assert new_user.phone_verified_at is None


def test_code_goes_to_the_entered_number_in_e164(enrolling_client, new_user, sms_outbox):
    response = enrolling_client.post(ENROLL_URL, {"phone_number": "0176 123 456 78"})

    assert response.status_code == 302
    assert response["Location"] == VERIFY_URL
    assert [sms.to for sms in sms_outbox] == [NEW_PHONE]
    verify = enrolling_client.get(VERIFY_URL)
    assert "+49 •••••••••78" in page(verify)
    assert NEW_PHONE not in page(verify)
    # Nothing is stored on the account before the code proves the number.
    new_user.refresh_from_db()
    assert new_user.phone_number == ""
    assert new_user.phone_verified_at is None


def test_right_code_verifies_the_number_and_signs_in(enrolling_client, new_user, sms_outbox):
    enrolling_client.post(ENROLL_URL, {"phone_number": "0176 12345678"})

    response = enrolling_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_as(enrolling_client) == str(new_user.pk)
    new_user.refresh_from_db()
    assert new_user.phone_number == NEW_PHONE
    assert new_user.phone_verified_at is not None
    assert new_user.has_verified_phone
    verified = AuthEvent.objects.get(user=new_user, kind=Kind.PHONE_VERIFIED)
    assert NEW_PHONE not in verified.detail
    assert verified.detail == new_user.masked_phone_number
    assert AuthEvent.objects.filter(user=new_user, kind=Kind.CODE_OK).count() == 1
    home = enrolling_client.get("/")
    assert home.status_code == 200
    assert new_user.masked_phone_number in page(home)


def test_enrollment_follows_a_safe_next(client, new_user, sms_outbox):
    sign_in_password(client, new_user.email, next_url="/accounts/security/")
    client.post(ENROLL_URL, {"phone_number": NEW_PHONE})

    response = client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response["Location"] == "/accounts/security/"


def test_wrong_code_at_enrollment_does_not_verify_the_number(
    enrolling_client, new_user, sms_outbox
):
    enrolling_client.post(ENROLL_URL, {"phone_number": NEW_PHONE})
    code = code_from_outbox(sms_outbox)

    response = enrolling_client.post(VERIFY_URL, {"code": wrong_code(code)})

    assert response.status_code == 200
    assert WRONG_CODE in page(response)
    assert signed_in_as(enrolling_client) is None
    new_user.refresh_from_db()
    assert new_user.phone_number == ""
    assert new_user.phone_verified_at is None
    assert not AuthEvent.objects.filter(kind=Kind.PHONE_VERIFIED).exists()
    assert AuthEvent.objects.filter(user=new_user, kind=Kind.CODE_WRONG).count() == 1
    assert new_user.code_failures == 1


def test_abandoned_enrollment_leaves_the_number_unverified(client, new_user, sms_outbox):
    sign_in_password(client, new_user.email)
    client.post(ENROLL_URL, {"phone_number": NEW_PHONE})
    assert len(sms_outbox) == 1

    again = Client()
    response = sign_in_password(again, new_user.email)

    assert response["Location"] == ENROLL_URL
    assert len(sms_outbox) == 1
    new_user.refresh_from_db()
    assert not new_user.has_verified_phone


def test_after_enrollment_the_next_sign_in_texts_the_verified_number(
    enrolling_client, new_user, sms_outbox
):
    enrolling_client.post(ENROLL_URL, {"phone_number": NEW_PHONE})
    enrolling_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    enrolling_client.post("/accounts/logout/")

    response = sign_in_password(enrolling_client, new_user.email)

    assert response["Location"] == VERIFY_URL
    assert [sms.to for sms in sms_outbox] == [NEW_PHONE, NEW_PHONE]


# --- no login codes to unverified numbers ----------------------------------------------


def test_admin_set_number_gets_no_sms_at_the_password_step(client, preset_user, sms_outbox):
    response = sign_in_password(client, preset_user.email)

    assert response["Location"] == ENROLL_URL
    assert sms_outbox == []
    assert client.session[PENDING_KEY]["phone_number"] == ""


def test_enrolling_user_cannot_get_a_code_before_giving_a_number(client, preset_user, sms_outbox):
    sign_in_password(client, preset_user.email)

    resend = client.post(RESEND_URL)
    verify_get = client.get(VERIFY_URL)
    verify_post = client.post(VERIFY_URL, {"code": "123456"})

    assert resend["Location"] == ENROLL_URL
    assert verify_get["Location"] == ENROLL_URL
    assert verify_post["Location"] == ENROLL_URL
    assert sms_outbox == []
    assert signed_in_as(client) is None


def test_admin_set_number_is_shown_disabled(client, preset_user):
    sign_in_password(client, preset_user.email)

    response = client.get(ENROLL_URL)
    field = phone_input(page(response))

    assert "disabled" in field
    assert f'value="{ADMIN_PHONE}"' in field
    assert "Your administrator added this mobile number" in page(response)


def test_tampered_post_still_texts_only_the_admin_set_number(client, preset_user, sms_outbox):
    sign_in_password(client, preset_user.email)

    response = client.post(ENROLL_URL, {"phone_number": NEW_PHONE})

    assert response["Location"] == VERIFY_URL
    assert [sms.to for sms in sms_outbox] == [ADMIN_PHONE]
    client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    preset_user.refresh_from_db()
    assert preset_user.phone_number == ADMIN_PHONE
    assert preset_user.phone_verified_at is not None
    assert signed_in_as(client) == str(preset_user.pk)


def test_admin_set_number_confirmed_with_an_empty_post(client, preset_user, sms_outbox):
    sign_in_password(client, preset_user.email)

    response = client.post(ENROLL_URL, {})

    assert response["Location"] == VERIFY_URL
    assert [sms.to for sms in sms_outbox] == [ADMIN_PHONE]


# --- limits ----------------------------------------------------------------------------


def test_resend_on_the_enrollment_number_waits_for_the_cooldown(enrolling_client, sms_outbox):
    enrolling_client.post(ENROLL_URL, {"phone_number": NEW_PHONE})

    response = enrolling_client.post(RESEND_URL, follow=True)

    assert response.redirect_chain == [(VERIFY_URL, 302)]
    assert WAIT.search(page(response))
    assert [sms.to for sms in sms_outbox] == [NEW_PHONE]


def test_switching_the_enrollment_number_does_not_skip_the_cooldown(
    enrolling_client, new_user, sms_outbox
):
    enrolling_client.post(ENROLL_URL, {"phone_number": NEW_PHONE})

    response = enrolling_client.post(ENROLL_URL, {"phone_number": OTHER_PHONE})

    assert response.status_code == 200
    assert WAIT.search(page(response))
    assert [sms.to for sms in sms_outbox] == [NEW_PHONE]
    assert AuthEvent.objects.filter(
        user=new_user, kind=Kind.THROTTLED, detail="resend-cooldown"
    ).exists()


def test_a_refused_number_cannot_be_verified_with_the_code_of_another(
    enrolling_client, new_user, sms_outbox
):
    """The code texted to NEW_PHONE proves NEW_PHONE only. Asking for a code to
    OTHER_PHONE is refused (cooldown), so OTHER_PHONE never got a code and must not end
    up as the verified number."""
    enrolling_client.post(ENROLL_URL, {"phone_number": NEW_PHONE})
    code = code_from_outbox(sms_outbox)
    refused = enrolling_client.post(ENROLL_URL, {"phone_number": OTHER_PHONE})
    assert WAIT.search(page(refused))

    enrolling_client.post(VERIFY_URL, {"code": code})

    new_user.refresh_from_db()
    assert [sms.to for sms in sms_outbox] == [NEW_PHONE]
    assert new_user.phone_number != OTHER_PHONE
    if new_user.phone_verified_at is not None:
        assert new_user.phone_number == NEW_PHONE


def test_per_phone_limit_applies_to_the_enrollment_number(
    enrolling_client, new_user, sms_outbox, settings
):
    settings.SMS_PER_PHONE_DAILY = 2
    for _ in range(2):
        SmsSend.objects.create(phone_number=NEW_PHONE, purpose=SmsSend.Purpose.LOGIN)

    response = enrolling_client.post(ENROLL_URL, {"phone_number": NEW_PHONE})

    assert response.status_code == 200
    assert PHONE_LIMIT in page(response)
    assert sms_outbox == []
    assert AuthEvent.objects.filter(
        user=new_user, kind=Kind.THROTTLED, detail="phone-daily"
    ).exists()


def test_wrong_enrollment_codes_count_toward_the_account_lock(
    enrolling_client, new_user, sms_outbox, settings
):
    settings.LOGIN_LOCK_THRESHOLD = 2
    enrolling_client.post(ENROLL_URL, {"phone_number": NEW_PHONE})
    code = code_from_outbox(sms_outbox)

    enrolling_client.post(VERIFY_URL, {"code": wrong_code(code)})
    locked = enrolling_client.post(VERIFY_URL, {"code": wrong_code(code)})
    right = enrolling_client.post(VERIFY_URL, {"code": code})

    assert locked.status_code == 429
    assert LOCKED in page(locked)
    assert LOCKED in page(right)
    assert signed_in_as(enrolling_client) is None
    new_user.refresh_from_db()
    assert new_user.phone_verified_at is None
    assert new_user.is_code_locked()
    assert AuthEvent.objects.filter(user=new_user, kind=Kind.LOCKED).exists()


def test_enrollment_is_not_offered_a_remembered_browser(enrolling_client, sms_outbox):
    enrolling_client.post(ENROLL_URL, {"phone_number": NEW_PHONE})

    verify = enrolling_client.get(VERIFY_URL)
    response = enrolling_client.post(
        VERIFY_URL, {"code": code_from_outbox(sms_outbox), "remember": "on"}
    )

    assert 'name="remember"' not in page(verify)
    assert response.status_code == 302
    assert "twofa_trusted" not in response.cookies
    assert not TrustedBrowser.objects.exists()
