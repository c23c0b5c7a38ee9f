"""Hostile and odd input in every field of the sign-in flow and the admin's user form.

Whatever arrives, the answer is a page with a form error or a redirect, never a 500, and no
SMS goes out unless the password was right.
"""

import itertools
import re
from urllib.parse import urlsplit

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import LoginCode, User
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox, sign_in_password

LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
ADD_USER_URL = "/admin/accounts/user/add/"
EMAIL = "alice@example.com"
NEW_PASSWORD = "a-long-and-unusual-passphrase-91"

REQUIRED = "This field is required."
NULL_CHARS = "Null characters are not allowed."
GENERIC_LOGIN_ERROR = "Please enter a correct email address and password."
CODE_FORMAT_ERROR = "Enter the 6-digit code from the SMS, using the digits 0-9."
INVALID_EMAIL = "Enter a valid email address."
INVALID_PHONE = "Enter a valid phone number, for example +49 151 23456789."
SEPARATORS = re.compile(r"[\s\-‐‑–—]+")

HUGE = "x" * 10_240
BAD_VALUES = {
    "empty": "",
    "huge": HUGE,
    "nul": "ab\x00cd",
    "non-ascii": "jürgen",
    "emoji": "😀🔑",
    "unicode-digits": "١٢٣٤٥٦",
    "sql": "' OR 1=1 --",
}


def cases(expected: dict[str, str]) -> list:
    """Return pytest params (bad value, expected error) for the names in `expected`."""
    return [pytest.param(BAD_VALUES[name], error, id=name) for name, error in expected.items()]


def has_form_error(page: str) -> bool:
    return 'class="alert error"' in page or 'class="error"' in page or "errorlist" in page


# --- login form ------------------------------------------------------------------------

USERNAME_ERRORS = {
    "empty": REQUIRED,
    "huge": GENERIC_LOGIN_ERROR,  # AuthenticationForm has no length validator, only maxlength
    "nul": NULL_CHARS,
    "non-ascii": GENERIC_LOGIN_ERROR,
    "emoji": GENERIC_LOGIN_ERROR,
    "unicode-digits": GENERIC_LOGIN_ERROR,
    "sql": GENERIC_LOGIN_ERROR,
}
PASSWORD_ERRORS = {
    "empty": REQUIRED,
    "huge": GENERIC_LOGIN_ERROR,
    "nul": NULL_CHARS,
    "non-ascii": GENERIC_LOGIN_ERROR,
    "emoji": GENERIC_LOGIN_ERROR,
    "unicode-digits": GENERIC_LOGIN_ERROR,
    "sql": GENERIC_LOGIN_ERROR,
}


@pytest.mark.parametrize(("value", "error"), cases(USERNAME_ERRORS))
def test_bad_username_is_a_form_error_without_sms(client, user, sms_outbox, value, error):
    response = client.post(LOGIN_URL, {"username": value, "password": DEFAULT_PASSWORD})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert sms_outbox == []
    assert not LoginCode.objects.exists()
    assert "accounts_pending_login" not in client.session


@pytest.mark.parametrize(("value", "error"), cases(PASSWORD_ERRORS))
def test_bad_password_is_a_form_error_without_sms(client, user, sms_outbox, value, error):
    response = client.post(LOGIN_URL, {"username": EMAIL, "password": value})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert sms_outbox == []
    assert not LoginCode.objects.exists()


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_bad_next_on_the_login_page_is_not_an_error(client, value):
    response = client.get(LOGIN_URL, {"next": value})

    assert response.status_code == 200
    assert 'name="next"' in response.content.decode()


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_bad_next_never_leaves_the_site(client, user, sms_outbox, value):
    password = sign_in_password(client, EMAIL, next_url=value)
    assert password.status_code == 302
    assert password["Location"] == VERIFY_URL
    assert len(sms_outbox) == 1  # the password was right

    response = client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert not target.scheme
    assert not target.netloc
    assert not response["Location"].startswith(("//", "/\\"))
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize(
    "value", ["", HUGE, "\x00//evil.example"], ids=["empty", "huge", "leading-nul"]
)
def test_unusable_next_goes_home(client, user, sms_outbox, value):
    sign_in_password(client, EMAIL, next_url=value)

    response = client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response["Location"] == "/"


# --- verify form -----------------------------------------------------------------------

CODE_ERRORS = {
    "empty": REQUIRED,
    "huge": "Ensure this value has at most 64 characters",
    "nul": NULL_CHARS,
    "non-ascii": CODE_FORMAT_ERROR,
    "emoji": CODE_FORMAT_ERROR,
    "unicode-digits": CODE_FORMAT_ERROR,
    "sql": CODE_FORMAT_ERROR,
}


@pytest.mark.parametrize(("value", "error"), cases(CODE_ERRORS))
def test_bad_code_is_a_form_error_and_not_an_attempt(
    pending_client, user, sms_outbox, value, error
):
    response = pending_client.post(VERIFY_URL, {"code": value})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert "_auth_user_id" not in pending_client.session
    assert LoginCode.objects.get(user=user).attempts == 0
    assert len(sms_outbox) == 1


# --- admin: add user -------------------------------------------------------------------


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def add_user(client: Client, **overrides):
    data = {
        "email": "new@example.com",
        "phone_number": "+4915111111111",
        "usable_password": "true",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "_save": "Save",
        **overrides,
    }
    return client.post(ADD_USER_URL, data)


def field_errors(response, field: str) -> str:
    """Return the text of the admin form's error list for `field` ("" when it has none)."""
    pattern = rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>'
    match = re.search(pattern, response.content.decode(), re.DOTALL)
    return match.group(1) if match else ""


EMAIL_ERRORS = {
    "empty": REQUIRED,
    "huge": "Ensure this value has at most 254 characters",
    "nul": NULL_CHARS,
    "non-ascii": INVALID_EMAIL,
    "emoji": INVALID_EMAIL,
    "unicode-digits": INVALID_EMAIL,
    "sql": INVALID_EMAIL,
}
PHONE_ERRORS = {
    "huge": "",  # a length message; its limit is the form's business, only "an error" counts
    "nul": NULL_CHARS,
    "non-ascii": INVALID_PHONE,
    "emoji": INVALID_PHONE,
    "unicode-digits": INVALID_PHONE,
    "sql": INVALID_PHONE,
}


@pytest.mark.parametrize(("value", "error"), cases(EMAIL_ERRORS))
def test_admin_add_user_bad_email_is_a_form_error(staff_client, value, error):
    users_before = User.objects.count()

    response = add_user(staff_client, email=value)

    assert response.status_code == 200
    assert error in field_errors(response, "email")
    assert User.objects.count() == users_before


@pytest.mark.parametrize(("value", "error"), cases(PHONE_ERRORS))
def test_admin_add_user_bad_phone_is_a_form_error(staff_client, value, error):
    response = add_user(staff_client, phone_number=value)

    assert response.status_code == 200
    assert field_errors(response, "phone_number")
    assert error in field_errors(response, "phone_number")
    assert not User.objects.filter(email="new@example.com").exists()


def test_admin_add_user_without_phone_is_allowed(staff_client):
    # A user without a phone number is valid: at sign-in they are told to ask an admin.
    response = add_user(staff_client, phone_number="")

    assert response.status_code == 302
    assert User.objects.get(email="new@example.com").phone_number == ""


@pytest.mark.parametrize(
    "value", ["٠١٥١ ٢٣٤٥٦٧٨٩", "０１５１ ２３４５６７８９"], ids=["arabic-indic", "fullwidth"]
)
def test_admin_add_user_phone_in_other_digits_is_stored_in_ascii(staff_client, value):
    response = add_user(staff_client, phone_number=value)

    assert response.status_code == 302
    assert User.objects.get(email="new@example.com").phone_number == "+4915123456789"


# --- properties ------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def fresh_account(make_user):
    """Factory: a new user and browser per example, so that examples do not share state."""
    numbers = itertools.count(1)

    def make() -> tuple[User, Client]:
        n = next(numbers)
        account = make_user(f"prop{n}@example.com", phone_number=f"+49151{10_000_000 + n:08d}")
        return account, Client(REMOTE_ADDR=f"10.0.{n // 250}.{n % 250 + 1}")

    return make


@PROPERTY_SETTINGS
@given(
    username=st.one_of(st.none(), st.text()),
    password=st.one_of(st.none(), st.text()),
    next_url=st.text(),
)
def test_login_form_answers_with_an_error_or_a_code(
    fresh_account, sms_outbox, username, password, next_url
):
    """None stands for the account's right email or password."""
    account, browser = fresh_account()
    username = account.email if username is None else username
    password = DEFAULT_PASSWORD if password is None else password
    sent_before = len(sms_outbox)

    response = browser.post(
        LOGIN_URL, {"username": username, "password": password, "next": next_url}
    )

    right = username.strip().lower() == account.email and password == DEFAULT_PASSWORD
    if right:
        assert response.status_code == 302
        assert response["Location"] == VERIFY_URL
        assert len(sms_outbox) == sent_before + 1
        assert sms_outbox[-1].to == account.phone_number
    else:
        assert response.status_code == 200
        assert has_form_error(response.content.decode())
        assert len(sms_outbox) == sent_before
    assert "_auth_user_id" not in browser.session


@PROPERTY_SETTINGS
@given(data=st.data())
def test_verify_form_answers_with_an_error_or_a_sign_in(fresh_account, sms_outbox, data):
    account, browser = fresh_account()
    assert sign_in_password(browser, account.email)["Location"] == VERIFY_URL
    code = code_from_outbox(sms_outbox)
    sent_before = len(sms_outbox)
    spaced = st.text(alphabet=" -", max_size=3).map(lambda sep: f"{code[:3]}{sep}{code[3:]}")
    value = data.draw(st.one_of(st.text(), st.just(code), spaced), label="code")

    response = browser.post(VERIFY_URL, {"code": value})

    if SEPARATORS.sub("", value) == code:
        assert response.status_code == 302
        assert response["Location"] == "/"
        assert browser.session["_auth_user_id"] == str(account.pk)
    else:
        assert response.status_code == 200
        assert has_form_error(response.content.decode())
        assert "_auth_user_id" not in browser.session
    assert len(sms_outbox) == sent_before


@PROPERTY_SETTINGS
@given(next_url=st.text())
def test_any_next_ends_in_a_local_redirect_after_the_code(fresh_account, sms_outbox, next_url):
    account, browser = fresh_account()
    assert sign_in_password(browser, account.email, next_url=next_url)["Location"] == VERIFY_URL

    response = browser.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert not target.scheme
    assert not target.netloc
    assert browser.session["_auth_user_id"] == str(account.pk)
