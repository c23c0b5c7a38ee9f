"""Step 1 of the browser sign-in: email and password, then a code goes out by SMS.

Everything is checked from the outside: status, redirect target, page text, session, rows and
the SMS outbox. A right password never signs anybody in on its own.
"""

import logging
import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db.models import F
from django.test import Client, override_settings

from accounts.exceptions import SmsTemporaryError
from accounts.models import LoginCode
from accounts.sms.backends.base import BaseSmsBackend, SmsMessage
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox, sign_in_password

LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
RESEND_URL = "/accounts/login/resend/"
PENDING_KEY = "accounts_pending_login"
SMS_FAILED = "We could not send the SMS. Please try again in a minute."
GENERIC_ERROR = "Please enter a correct email address and password."
SMS_TEXT = re.compile(
    r"Your twofa_site login code: (?P<code>\d{6})\. Valid 5 minutes\. Never share it\.\n"
    r"\n"
    r"@(?P<host>[^ ]+) #(?P<webotp>\d{6})"
)
ERROR_BLOCK = re.compile(r'<div class="alert error" role="alert">.*?</div>', re.DOTALL)
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')

FAILING_BACKEND = "tests.test_login_flow.FailingSmsBackend"
attempted_sms: list[SmsMessage] = []


class FailingSmsBackend(BaseSmsBackend):
    """Behaves like sipgate answering 503: records what it was asked to send, then fails."""

    def send_message(self, message: SmsMessage) -> None:
        attempted_sms.append(message)
        raise SmsTemporaryError(status=503)


@pytest.fixture
def failed_sms():
    """The messages FailingSmsBackend was asked to send in this test."""
    attempted_sms.clear()
    yield attempted_sms
    attempted_sms.clear()


def error_block(response) -> str:
    """Return the rendered form-error box of a page ("" when there is none)."""
    match = ERROR_BLOCK.search(response.content.decode())
    return match.group(0) if match else ""


def page_without_noise(response, *typed: str) -> str:
    """Return the page with the CSRF token and the echoed email(s) blanked out."""
    text = CSRF_INPUT.sub('name="csrfmiddlewaretoken" value=""', response.content.decode())
    for value in typed:
        text = text.replace(value, "EMAIL")
    return text


def test_right_password_sends_code_instead_of_signing_in(client, user, sms_outbox):
    response = sign_in_password(client, user.email)

    assert response.status_code == 302
    assert response["Location"] == VERIFY_URL
    assert "_auth_user_id" not in client.session
    assert PENDING_KEY in client.session
    assert len(sms_outbox) == 1
    assert sms_outbox[0].to == "+4915123456789"


def test_sms_text_has_the_code_and_a_webotp_line(client, user, sms_outbox):
    sign_in_password(client, user.email)

    match = SMS_TEXT.fullmatch(sms_outbox[0].text)
    assert match, sms_outbox[0].text
    assert match["host"] == "testserver"
    assert match["code"] == match["webotp"]
    assert LoginCode.objects.filter(user=user).count() == 1


@override_settings(ALLOWED_HOSTS=["localhost", "testserver"])
def test_webotp_line_names_the_host_without_the_port(user, sms_outbox):
    client = Client(HTTP_HOST="localhost:8000")

    response = sign_in_password(client, user.email)

    assert response.status_code == 302
    match = SMS_TEXT.fullmatch(sms_outbox[0].text)
    assert match, sms_outbox[0].text
    assert match["host"] == "localhost"
    assert match["webotp"] == match["code"]


def test_password_step_gives_a_new_session_key(client, user):
    planted_key = client.session.session_key  # a session id that existed before the login

    sign_in_password(client, user.email)

    assert client.session.session_key != planted_key
    assert not Session.objects.filter(session_key=planted_key).exists()
    assert PENDING_KEY in client.session


def test_wrong_password_and_unknown_email_look_the_same(client, user, sms_outbox):
    wrong_password = sign_in_password(client, user.email, "not the password")
    unknown_email = sign_in_password(client, "nobody@example.com", DEFAULT_PASSWORD)

    assert wrong_password.status_code == unknown_email.status_code == 200
    assert GENERIC_ERROR in error_block(wrong_password)
    assert error_block(wrong_password) == error_block(unknown_email)
    assert page_without_noise(wrong_password, user.email) == page_without_noise(
        unknown_email, "nobody@example.com"
    )
    assert sms_outbox == []
    assert "_auth_user_id" not in client.session
    assert PENDING_KEY not in client.session
    assert not LoginCode.objects.exists()


def test_wrong_password_keeps_the_email_but_never_the_password(client, user):
    response = sign_in_password(client, user.email, "hunter2-wrong")

    page = response.content.decode()
    assert f'value="{user.email}"' in page
    assert "hunter2-wrong" not in page


@pytest.mark.parametrize(
    "typed", ["ALICE@EXAMPLE.COM", "Alice@Example.com", " alice@example.com "]
)
def test_email_is_case_insensitive(client, user, sms_outbox, typed):
    response = sign_in_password(client, typed)

    assert response.status_code == 302
    assert response["Location"] == VERIFY_URL
    assert [m.to for m in sms_outbox] == [user.phone_number]


def test_inactive_user_gets_the_generic_error_and_no_sms(client, make_user, user, sms_outbox):
    inactive = make_user("inactive@example.com", is_active=False)

    inactive_response = sign_in_password(client, inactive.email)
    wrong_password = sign_in_password(client, user.email, "not the password")

    assert inactive_response.status_code == 200
    assert GENERIC_ERROR in error_block(inactive_response)
    assert error_block(inactive_response) == error_block(wrong_password)
    assert sms_outbox == []
    assert PENDING_KEY not in client.session
    assert not LoginCode.objects.exists()


def test_user_without_phone_is_sent_to_enroll_one(client, make_user, sms_outbox):
    phoneless = make_user("nophone@example.com", phone_number="")

    response = sign_in_password(client, phoneless.email)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/enroll/"
    assert sms_outbox == []
    assert client.session[PENDING_KEY]["enrolling"] is True
    assert "_auth_user_id" not in client.session
    assert not LoginCode.objects.exists()
    assert client.get(VERIFY_URL)["Location"] == "/accounts/enroll/"


def test_user_without_phone_and_wrong_password_gets_the_generic_error(
    client, make_user, sms_outbox
):
    phoneless = make_user("nophone@example.com", phone_number="")

    response = sign_in_password(client, phoneless.email, "not the password")

    assert response.status_code == 200
    assert GENERIC_ERROR in error_block(response)
    assert "administrator" not in response.content.decode()


def test_signed_in_user_is_sent_away_from_the_login_page(client, user, sms_outbox):
    client.force_login(user)

    get = client.get(LOGIN_URL)
    post = sign_in_password(client, user.email)

    assert get.status_code == 302
    assert get["Location"] == "/"
    assert post.status_code == 302
    assert post["Location"] == "/"
    assert sms_outbox == []
    assert client.session["_auth_user_id"] == str(user.pk)


def test_signed_in_user_is_sent_to_a_safe_next(client, staff_user):
    client.force_login(staff_user)

    assert client.get(LOGIN_URL, {"next": "/admin/"})["Location"] == "/admin/"
    assert client.get(LOGIN_URL, {"next": "https://evil.example/"})["Location"] == "/"


def test_a_new_password_step_voids_the_code_of_an_earlier_one(user, sms_outbox):
    first, second = Client(), Client()
    sign_in_password(first, user.email)
    first_code = code_from_outbox(sms_outbox, 0)
    sign_in_password(second, user.email)

    response = first.post(VERIFY_URL, {"code": first_code})

    assert response.status_code == 200
    assert "Please request a new code" in response.content.decode()
    assert "_auth_user_id" not in first.session
    assert len(sms_outbox) == 2


@override_settings(SMS_BACKEND=FAILING_BACKEND)
def test_sms_failure_keeps_the_pending_login_and_says_try_again(
    client, user, sms_outbox, failed_sms
):
    response = sign_in_password(client, user.email)

    assert response.status_code == 302
    assert response["Location"] == VERIFY_URL
    assert len(failed_sms) == 1
    code = SMS_TEXT.fullmatch(failed_sms[0].text)["code"]
    assert code not in response["Location"]

    page = client.get(VERIFY_URL)
    text = page.content.decode()
    assert page.status_code == 200
    assert SMS_FAILED in text
    assert user.masked_phone_number in text
    assert code not in text
    assert sms_outbox == []
    assert PENDING_KEY in client.session
    assert "_auth_user_id" not in client.session


@override_settings(SMS_BACKEND=FAILING_BACKEND)
def test_code_of_a_failed_sms_does_not_work(client, user, failed_sms):
    sign_in_password(client, user.email)
    code = SMS_TEXT.fullmatch(failed_sms[0].text)["code"]

    response = client.post(VERIFY_URL, {"code": code})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_after_an_sms_failure_a_new_code_can_be_sent_and_used(
    client, user, sms_outbox, failed_sms
):
    with override_settings(SMS_BACKEND=FAILING_BACKEND):
        sign_in_password(client, user.email)
    LoginCode.objects.update(created_at=F("created_at") - timedelta(seconds=61))

    resend = client.post(RESEND_URL)
    assert resend["Location"] == VERIFY_URL
    assert len(sms_outbox) == 1
    verify = client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert verify.status_code == 302
    assert verify["Location"] == "/"
    assert client.session["_auth_user_id"] == str(user.pk)


@override_settings(SMS_BACKEND="tests.test_login_flow.NoSuchBackend")
def test_misconfigured_sms_backend_gives_the_same_message_not_a_500(client, user, sms_outbox):
    response = sign_in_password(client, user.email)

    assert response["Location"] == VERIFY_URL
    page = client.get(VERIFY_URL)
    assert page.status_code == 200
    assert SMS_FAILED in page.content.decode()
    assert sms_outbox == []


@override_settings(SMS_BACKEND=FAILING_BACKEND)
def test_sms_failure_log_has_no_code_and_no_full_number(client, user, failed_sms, caplog):
    caplog.set_level(logging.DEBUG)

    sign_in_password(client, user.email)
    client.get(VERIFY_URL)

    code = SMS_TEXT.fullmatch(failed_sms[0].text)["code"]
    assert "failed" in caplog.text
    assert "503" in caplog.text  # the operator still learns what went wrong
    assert code not in caplog.text
    assert user.phone_number not in caplog.text
    assert failed_sms[0].text not in caplog.text
