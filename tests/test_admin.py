"""The admin: reachable only after both sign-in steps, users with phones, codes read-only."""

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from accounts.models import LoginCode, User
from tests.conftest import code_from_outbox, sign_in_password

LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
ADMIN_LOGIN_REDIRECT = "/accounts/login/?next=/admin/"
USERS_URL = "/admin/accounts/user/"
CODES_URL = "/admin/accounts/logincode/"
INVALID_PHONE = "Enter a valid phone number, for example +49 151 23456789."
NEW_PASSWORD = "a-long-and-unusual-passphrase-91"
ADMIN_INDEX_TEXT = "Site administration"


def table_row(page: str, text: str) -> str:
    """Return the changelist <tr> that contains `text`."""
    rows = [row for row in re.findall(r"<tr.*?</tr>", page, re.DOTALL) if text in row]
    assert len(rows) == 1, f"{len(rows)} rows contain {text!r}"
    return rows[0]


def add_user_data(**overrides) -> dict:
    return {
        "email": "new@example.com",
        "phone_number": "+4915111111111",
        "usable_password": "true",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "_save": "Save",
        **overrides,
    }


def change_user_data(user: User, **overrides) -> dict:
    return {
        "email": user.email,
        "phone_number": user.phone_number,
        "is_active": "on",
        "_save": "Save",
        **overrides,
    }


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def login_code(user, sms_outbox) -> LoginCode:
    """The open code row of `user`'s pending login, started in a browser of its own."""
    response = sign_in_password(Client(), user.email)
    assert response["Location"] == VERIFY_URL
    return LoginCode.objects.get(user=user)


# --- getting in ------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_admin_goes_to_the_two_step_login(client):
    first = client.get("/admin/")
    assert first.status_code == 302
    assert first["Location"] == "/admin/login/?next=/admin/"

    second = client.get(first["Location"])
    assert second.status_code == 302
    assert second["Location"] == ADMIN_LOGIN_REDIRECT

    followed = client.get("/admin/", follow=True)
    assert followed.status_code == 200
    assert followed.redirect_chain[-1] == (ADMIN_LOGIN_REDIRECT, 302)
    assert 'name="next" value="/admin/"' in followed.content.decode()
    assert ADMIN_INDEX_TEXT not in followed.content.decode()


@pytest.mark.django_db
def test_admin_never_serves_its_own_password_form(client, staff_user, sms_outbox):
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": staff_user.email, "password": "correct horse battery staple"},
    )

    assert response.status_code == 302
    assert response["Location"] == ADMIN_LOGIN_REDIRECT
    assert "_auth_user_id" not in client.session
    assert sms_outbox == []


def test_staff_with_only_the_password_cannot_reach_admin(client, staff_user, sms_outbox):
    sign_in_password(client, staff_user.email, next_url="/admin/")
    assert len(sms_outbox) == 1

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1] == (ADMIN_LOGIN_REDIRECT, 302)
    assert ADMIN_INDEX_TEXT not in response.content.decode()
    assert client.get(USERS_URL).status_code == 302
    assert "_auth_user_id" not in client.session


def test_staff_reaches_admin_after_the_code(client, staff_user, sms_outbox):
    sign_in_password(client, staff_user.email, next_url="/admin/")
    verify = client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    assert verify["Location"] == "/admin/"

    response = client.get("/admin/")

    assert response.status_code == 200
    assert ADMIN_INDEX_TEXT in response.content.decode()


def test_signed_in_non_staff_gets_403_without_a_loop(client, user):
    client.force_login(user)

    response = client.get("/admin/", follow=True)

    assert response.status_code == 403
    assert response.redirect_chain == [("/admin/login/?next=/admin/", 302)]
    assert "cannot use the admin site" in response.content.decode()
    assert client.get(USERS_URL, follow=True).status_code == 403


def test_inactive_staff_session_cannot_use_admin(client, staff_user):
    client.force_login(staff_user)
    User.objects.filter(pk=staff_user.pk).update(is_active=False)

    response = client.get("/admin/", follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1] == (ADMIN_LOGIN_REDIRECT, 302)
    assert ADMIN_INDEX_TEXT not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "evil_next", ["https://evil.example", "//evil.example", "javascript:alert(1)"]
)
def test_admin_login_replaces_an_unsafe_next(client, evil_next):
    response = client.get("/admin/login/", {"next": evil_next})

    assert response.status_code == 302
    assert response["Location"] == ADMIN_LOGIN_REDIRECT


def test_admin_login_for_signed_in_staff_ignores_an_unsafe_next(staff_client):
    response = staff_client.get("/admin/login/", {"next": "https://evil.example"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.parametrize("odd_next", ["0", "jürgen", "admin"])
def test_admin_login_for_signed_in_staff_with_an_odd_next_is_not_a_500(staff_client, odd_next):
    staff_client.raise_request_exception = False

    response = staff_client.get("/admin/login/", {"next": odd_next})

    assert response.status_code == 302
    assert not urlsplit(response["Location"]).netloc


# --- users -----------------------------------------------------------------------------


def test_user_changelist_shows_email_masked_phone_staff_and_last_login(
    staff_client, staff_user, user
):
    response = staff_client.get(USERS_URL)
    page = response.content.decode()

    assert response.status_code == 200
    for header in ("Email address", "Phone number", "Staff status", "Last login"):
        assert header.lower() in page.lower()
    alice = table_row(page, user.email)
    staff = table_row(page, staff_user.email)
    assert user.masked_phone_number in alice
    assert staff_user.masked_phone_number in staff
    assert user.phone_number not in page
    assert staff_user.phone_number not in page
    assert re.search(r'field-is_staff"><img src="[^"]*icon-no', alice)
    assert re.search(r'field-is_staff"><img src="[^"]*icon-yes', staff)
    staff_user.refresh_from_db()
    assert str(staff_user.last_login.year) in staff
    assert re.search(r"field-last_login[^>]*>-</td>", alice)


def test_user_search_by_email(staff_client, make_user):
    make_user("bob@example.com")
    make_user("carol@example.com")

    page = staff_client.get(USERS_URL, {"q": "bob"}).content.decode()

    assert "bob@example.com" in page
    assert "carol@example.com" not in page


@pytest.mark.parametrize(
    "typed", ["0151 23456789", "+49 151 23456789", "0151/234 567 89", "+49 151 2345 6789"]
)
def test_add_user_normalises_the_phone_number(staff_client, typed):
    response = staff_client.post(
        f"{USERS_URL}add/",
        add_user_data(email="New.Person@Example.com", phone_number=typed),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    created = User.objects.get(email="new.person@example.com")
    assert created.phone_number == "+4915123456789"
    assert created.check_password(NEW_PASSWORD)
    assert not created.is_staff


@pytest.mark.parametrize("phone", ["12345", "0151", "+49 30", "not a number"])
def test_add_user_rejects_an_invalid_phone_number(staff_client, phone):
    response = staff_client.post(f"{USERS_URL}add/", add_user_data(phone_number=phone))

    assert response.status_code == 200
    assert INVALID_PHONE in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def test_add_user_rejects_an_email_that_differs_only_in_case(staff_client, user):
    response = staff_client.post(f"{USERS_URL}add/", add_user_data(email="ALICE@example.com"))

    assert response.status_code == 200
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1


def test_change_user_validates_the_phone_number(staff_client, user):
    url = f"{USERS_URL}{user.pk}/change/"

    bad = staff_client.post(url, change_user_data(user, phone_number="12345"))
    assert bad.status_code == 200
    assert INVALID_PHONE in bad.content.decode()
    user.refresh_from_db()
    assert user.phone_number == "+4915123456789"

    good = staff_client.post(url, change_user_data(user, phone_number="0170 1234567"))
    assert good.status_code == 302
    user.refresh_from_db()
    assert user.phone_number == "+491701234567"


def test_user_created_in_admin_confirms_the_number_at_first_sign_in(staff_client, sms_outbox):
    staff_client.post(f"{USERS_URL}add/", add_user_data(phone_number="0151 23456789"))
    browser = Client()

    response = sign_in_password(browser, "new@example.com", NEW_PASSWORD)
    assert response["Location"] == "/accounts/enroll/"
    assert sms_outbox == []

    response = browser.post("/accounts/enroll/", {})

    assert response["Location"] == VERIFY_URL
    assert [m.to for m in sms_outbox] == ["+4915123456789"]


# --- login codes -----------------------------------------------------------------------


def test_login_code_list_shows_fields_but_never_the_hash(staff_client, login_code, user):
    response = staff_client.get(CODES_URL)
    page = response.content.decode()

    assert response.status_code == 200
    row = table_row(page, user.email)
    assert "open" in row
    assert 'field-attempts">0<' in row
    assert login_code.code_hash not in page
    assert login_code.challenge not in page


def test_login_code_detail_shows_fields_but_never_the_hash(staff_client, login_code, user):
    response = staff_client.get(f"{CODES_URL}{login_code.pk}/change/")
    page = response.content.decode()

    assert response.status_code == 200
    assert user.email in page
    for label in ("Created at", "Expires at", "Attempts", "Used at", "Voided at", "State"):
        assert label in page
    assert login_code.code_hash not in page
    assert login_code.challenge not in page
    assert 'name="code_hash"' not in page


def test_login_code_cannot_be_added(staff_client, user):
    get = staff_client.get(f"{CODES_URL}add/")
    post = staff_client.post(
        f"{CODES_URL}add/",
        {
            "user": user.pk,
            "challenge": "x",
            "code_hash": "0" * 64,
            "expires_at_0": "2030-01-01",
            "expires_at_1": "00:00:00",
        },
    )

    assert get.status_code == 403
    assert post.status_code == 403
    assert not LoginCode.objects.exists()


def test_login_code_cannot_be_changed(staff_client, login_code):
    response = staff_client.post(
        f"{CODES_URL}{login_code.pk}/change/", {"attempts": "0", "used_at_0": "2030-01-01"}
    )

    assert response.status_code == 403
    login_code.refresh_from_db()
    assert login_code.used_at is None
    assert "Save" not in staff_client.get(f"{CODES_URL}{login_code.pk}/change/").content.decode()
