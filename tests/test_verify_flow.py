"""Step 2 of the browser sign-in: the code from the SMS, "Send a new code", home and logout."""

import re
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db.models import F
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import LoginCode, User
from tests.conftest import code_from_outbox, sign_in_password

LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
RESEND_URL = "/accounts/login/resend/"
LOGOUT_URL = "/accounts/logout/"
PENDING_KEY = "accounts_pending_login"
FORMAT_ERROR = "Enter the 6-digit code from the SMS, using the digits 0-9."
WRONG_CODE = "That code is not right. Please check the SMS and try again."
TOO_MANY_WRONG = "Too many wrong codes. Please request a new code."
EXPIRED = "This code has expired. Please request a new code."
SIGN_IN_EXPIRED = "Your sign-in has expired. Please sign in again."
TOO_MANY_SENDS = "You have asked for too many codes. Please sign in again to get a new one."
CODE_SENT = "We sent a new code to your phone."
WAIT_MESSAGE = re.compile(r"Please wait (\d+) seconds? before requesting a new code\.")

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def wrong_code(code: str) -> str:
    """Return a well-formed code that differs from `code`."""
    return f"{(int(code) + 1) % 10**6:06d}"


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def end_cooldown() -> None:
    """Pretend every code so far was sent more than the 60 s cooldown ago."""
    LoginCode.objects.update(created_at=F("created_at") - timedelta(seconds=61))


# --- the verify page -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_verify_without_pending_login_goes_to_login(client, method):
    response = getattr(client, method)(VERIFY_URL, {"code": "123456"} if method == "post" else {})

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_post_without_pending_login_says_the_sign_in_expired(client):
    response = client.post(VERIFY_URL, {"code": "123456"}, follow=True)

    assert response.redirect_chain == [(LOGIN_URL, 302)]
    assert SIGN_IN_EXPIRED in response.content.decode()


def test_verify_page_shows_the_masked_phone_and_never_the_code(pending_client, user, sms_outbox):
    response = pending_client.get(VERIFY_URL)
    page = response.content.decode()

    assert response.status_code == 200
    assert user.masked_phone_number in page
    assert page.count("•") >= 6
    assert user.phone_number not in page
    assert "15123456789" not in page
    assert code_from_outbox(sms_outbox) not in page
    assert 'autocomplete="one-time-code"' in page


def test_right_code_signs_in_with_a_new_session_key(pending_client, user, sms_outbox):
    pending_key = pending_client.session.session_key

    response = pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_as(pending_client) == str(user.pk)
    assert pending_client.session.session_key != pending_key
    assert not Session.objects.filter(session_key=pending_key).exists()
    assert PENDING_KEY not in pending_client.session
    assert LoginCode.objects.get(user=user).used_at is not None


def test_next_from_the_login_step_is_followed_after_the_code(client, staff_user, sms_outbox):
    login_page = client.get(LOGIN_URL, {"next": "/admin/"})
    assert 'name="next" value="/admin/"' in login_page.content.decode()

    password = sign_in_password(client, staff_user.email, next_url="/admin/")
    assert password["Location"] == VERIFY_URL
    response = client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    "evil_next",
    [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "http://testserver@evil.example",
    ],
)
def test_open_redirects_in_next_end_at_home(client, user, sms_outbox, evil_next):
    login_page = client.get(LOGIN_URL, {"next": evil_next})
    assert 'name="next" value=""' in login_page.content.decode()

    sign_in_password(client, user.email, next_url=evil_next)
    response = client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_as(client) == str(user.pk)


def test_wrong_code_shows_an_error_and_counts(pending_client, user, sms_outbox):
    response = pending_client.post(VERIFY_URL, {"code": wrong_code(code_from_outbox(sms_outbox))})

    assert response.status_code == 200
    assert WRONG_CODE in response.content.decode()
    assert signed_in_as(pending_client) is None
    assert LoginCode.objects.get(user=user).attempts == 1


def test_three_wrong_codes_void_the_code(pending_client, user, sms_outbox):
    code = code_from_outbox(sms_outbox)
    for _ in range(2):
        pending_client.post(VERIFY_URL, {"code": wrong_code(code)})
    third = pending_client.post(VERIFY_URL, {"code": wrong_code(code)})
    right = pending_client.post(VERIFY_URL, {"code": code})

    assert TOO_MANY_WRONG in third.content.decode()
    assert right.status_code == 200
    assert "Please request a new code" in right.content.decode()
    assert signed_in_as(pending_client) is None
    assert LoginCode.objects.get(user=user).voided_at is not None


def test_expired_code_is_refused(pending_client, user, sms_outbox):
    LoginCode.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response.status_code == 200
    assert EXPIRED in response.content.decode()
    assert signed_in_as(pending_client) is None


@pytest.mark.parametrize("separator", [" ", "-", "  ", " - ", "–"])
def test_spaces_and_dashes_in_the_code_are_ignored(pending_client, user, sms_outbox, separator):
    code = code_from_outbox(sms_outbox)

    response = pending_client.post(VERIFY_URL, {"code": f" {code[:3]}{separator}{code[3:]} "})

    assert response.status_code == 302
    assert signed_in_as(pending_client) == str(user.pk)


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULLWIDTH], ids=["arabic-indic", "fullwidth"])
def test_non_ascii_digits_are_a_form_error(pending_client, user, sms_outbox, digits):
    code = code_from_outbox(sms_outbox)

    response = pending_client.post(VERIFY_URL, {"code": code.translate(digits)})

    assert response.status_code == 200
    assert FORMAT_ERROR in response.content.decode()
    assert signed_in_as(pending_client) is None
    assert LoginCode.objects.get(user=user).attempts == 0  # rejected before it is checked


def test_literal_arabic_digits_example_is_a_form_error(pending_client):
    response = pending_client.post(VERIFY_URL, {"code": "١٢٣٤٥٦"})

    assert response.status_code == 200
    assert FORMAT_ERROR in response.content.decode()


def test_code_cannot_be_used_again_from_the_old_session(user, sms_outbox):
    browser = Client()
    sign_in_password(browser, user.email)
    code = code_from_outbox(sms_outbox)
    old_cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value
    browser.post(VERIFY_URL, {"code": code})
    assert signed_in_as(browser) == str(user.pk)

    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_cookie
    response = replay.post(VERIFY_URL, {"code": code})

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert signed_in_as(replay) is None


def test_code_cannot_be_used_again_for_a_new_sign_in(client, user, sms_outbox):
    sign_in_password(client, user.email)
    old_code = code_from_outbox(sms_outbox)
    assert client.post(VERIFY_URL, {"code": old_code})["Location"] == "/"
    client.post(LOGOUT_URL)
    sign_in_password(client, user.email)
    if code_from_outbox(sms_outbox) == old_code:  # one chance in a million
        pytest.skip("the new code happens to equal the old one")

    response = client.post(VERIFY_URL, {"code": old_code})

    assert response.status_code == 200
    assert WRONG_CODE in response.content.decode()
    assert signed_in_as(client) is None


def test_pending_login_does_not_work_in_another_browser(pending_client, user, sms_outbox):
    code = code_from_outbox(sms_outbox)
    other = Client()

    response = other.post(VERIFY_URL, {"code": code})

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert signed_in_as(other) is None
    # The other browser's try does not burn the code for the right browser.
    assert pending_client.post(VERIFY_URL, {"code": code})["Location"] == "/"


def test_pending_login_older_than_its_ttl_goes_to_login(pending_client, sms_outbox):
    session = pending_client.session
    pending = session[PENDING_KEY]
    pending["started_at"] = time.time() - 601
    session[PENDING_KEY] = pending
    session.save()

    post = pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)}, follow=True)

    assert post.redirect_chain == [(LOGIN_URL, 302)]
    assert SIGN_IN_EXPIRED in post.content.decode()
    assert signed_in_as(pending_client) is None
    assert pending_client.get(VERIFY_URL)["Location"] == LOGIN_URL


def test_short_pending_login_ttl_setting_is_honoured(pending_client, sms_outbox):
    time.sleep(0.01)

    with override_settings(PENDING_LOGIN_TTL=0):
        response = pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response["Location"] == LOGIN_URL
    assert signed_in_as(pending_client) is None


# --- "Send a new code" -----------------------------------------------------------------


def test_resend_during_cooldown_sends_nothing(pending_client, sms_outbox):
    response = pending_client.post(RESEND_URL, follow=True)
    page = response.content.decode()

    assert response.redirect_chain == [(VERIFY_URL, 302)]
    wait = WAIT_MESSAGE.search(page)
    assert wait, page
    assert 0 < int(wait.group(1)) <= 60
    assert "You can request a new code in" in page
    assert len(sms_outbox) == 1


def test_resend_after_cooldown_sends_a_new_code_and_voids_the_old(
    pending_client, user, sms_outbox
):
    old_code = code_from_outbox(sms_outbox)
    end_cooldown()

    response = pending_client.post(RESEND_URL, follow=True)

    assert CODE_SENT in response.content.decode()
    assert len(sms_outbox) == 2
    assert sms_outbox[1].to == user.phone_number
    new_code = code_from_outbox(sms_outbox)
    if new_code != old_code:  # one chance in a million that both are the same
        old = pending_client.post(VERIFY_URL, {"code": old_code})
        assert old.status_code == 200
        assert WRONG_CODE in old.content.decode()
    assert pending_client.post(VERIFY_URL, {"code": new_code})["Location"] == "/"
    assert signed_in_as(pending_client) == str(user.pk)


def test_fourth_send_is_refused(pending_client, sms_outbox):
    for _ in range(2):
        end_cooldown()
        pending_client.post(RESEND_URL)
    assert len(sms_outbox) == 3
    end_cooldown()

    response = pending_client.post(RESEND_URL, follow=True)
    page = response.content.decode()

    assert TOO_MANY_SENDS in page
    assert "You cannot request more codes for this sign-in." in page
    assert len(sms_outbox) == 3
    # The last code that was sent still works.
    last = pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    assert last["Location"] == "/"


def test_resend_by_get_is_not_allowed(pending_client, sms_outbox):
    end_cooldown()

    response = pending_client.get(RESEND_URL)

    assert response.status_code == 405
    assert len(sms_outbox) == 1


@pytest.mark.django_db
def test_resend_without_pending_login_goes_to_login(client, sms_outbox):
    response = client.post(RESEND_URL)

    assert response["Location"] == LOGIN_URL
    assert sms_outbox == []


# --- home and logout -------------------------------------------------------------------


@pytest.fixture
def signed_in_client(pending_client, sms_outbox):
    pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    return pending_client


def test_home_shows_email_and_masked_phone(signed_in_client, user):
    response = signed_in_client.get("/")
    page = response.content.decode()

    assert response.status_code == 200
    assert user.email in page
    assert user.masked_phone_number in page
    assert user.phone_number not in page


@pytest.mark.django_db
def test_home_needs_a_sign_in(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_home_needs_more_than_the_password(pending_client):
    assert pending_client.get("/")["Location"] == "/accounts/login/?next=/"


def test_logout_signs_out(signed_in_client, user):
    assert signed_in_as(signed_in_client) == str(user.pk)

    response = signed_in_client.post(LOGOUT_URL)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert signed_in_as(signed_in_client) is None
    home = signed_in_client.get("/")
    assert home.status_code == 302
    assert home["Location"] == "/accounts/login/?next=/"


def test_logout_by_get_is_not_allowed(signed_in_client, user):
    response = signed_in_client.get(LOGOUT_URL)

    assert response.status_code == 405
    assert signed_in_as(signed_in_client) == str(user.pk)


def test_verify_page_after_the_account_was_deactivated_restarts_the_sign_in(pending_client, user):
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = pending_client.get("/accounts/login/verify/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in pending_client.session
