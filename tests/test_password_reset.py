"""Password reset by email: no account enumeration, a one-time link, never a sign-in, never
a way around the second factor, and a per-IP limit on the form."""

import re

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuthEvent, TotpDevice, TrustedBrowser
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox, sign_in_password

Kind = AuthEvent.Kind

LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
VERIFY_TOTP_URL = "/accounts/login/verify/totp/"
LOGOUT_URL = "/accounts/logout/"
RESET_URL = "/accounts/password-reset/"
SENT_URL = "/accounts/password-reset/sent/"
NEW_PASSWORD = "a-long-and-unusual-passphrase-91"
OTHER_PASSWORD = "yet-another-unusual-passphrase-73"
LINK = re.compile(r"http://testserver(/accounts/password-reset/[^/\s]+/[^/\s]+/)")
BROKEN_LINK = "This link does not work"


def page(response) -> str:
    return response.content.decode()


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def request_reset(client: Client, email: str):
    return client.post(RESET_URL, {"email": email})


def link_from(mail) -> str:
    match = LINK.search(mail.body)
    assert match, mail.body
    return match.group(1)


def set_password(client: Client, link: str, password: str = NEW_PASSWORD):
    """Open the link and submit a new password; returns the final POST response."""
    opened = client.get(link)
    assert opened.status_code == 302  # Django moves the token out of the URL
    form_url = opened["Location"]
    return client.post(form_url, {"new_password1": password, "new_password2": password})


@pytest.fixture
def reset_link(client, user, mailoutbox) -> str:
    request_reset(client, user.email)
    assert len(mailoutbox) == 1
    return link_from(mailoutbox[0])


# --- asking for a link -----------------------------------------------------------------


@pytest.mark.django_db
def test_reset_form_is_shown(client):
    response = client.get(RESET_URL)

    assert response.status_code == 200
    assert 'name="email"' in page(response)


def test_known_and_unknown_emails_get_the_same_answer(user, mailoutbox):
    known_client, unknown_client = Client(), Client()

    known = request_reset(known_client, user.email)
    unknown = request_reset(unknown_client, "nobody@example.com")

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == SENT_URL
    known_page = page(known_client.get(SENT_URL))
    unknown_page = page(unknown_client.get(SENT_URL))
    strip = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
    assert strip.sub("", known_page) == strip.sub("", unknown_page)
    assert "If the address belongs to an account" in known_page
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [user.email]


def test_email_case_does_not_matter(client, user, mailoutbox):
    request_reset(client, user.email.upper())

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [user.email]


def test_inactive_user_gets_no_email_and_the_same_answer(client, make_user, mailoutbox):
    inactive = make_user("gone@example.com", is_active=False)

    response = request_reset(client, inactive.email)

    assert response["Location"] == SENT_URL
    assert mailoutbox == []


def test_reset_email_holds_a_link_and_no_password(reset_link, mailoutbox, user):
    body = mailoutbox[0].body

    assert reset_link.startswith("/accounts/password-reset/")
    assert DEFAULT_PASSWORD not in body
    assert "second factor" in body
    assert "Reset your" in mailoutbox[0].subject


def test_reset_form_is_limited_per_ip(user, mailoutbox, settings):
    settings.IP_PASSWORD_LIMIT = 2
    browser = Client()
    first = request_reset(browser, user.email)
    second = request_reset(browser, "nobody@example.com")

    third = request_reset(browser, user.email)

    assert first.status_code == second.status_code == 302
    assert third.status_code == 429
    assert "Too many attempts from your network" in page(third)
    assert len(mailoutbox) == 1


def test_reset_form_limit_is_shared_with_the_sign_in(user, mailoutbox, settings):
    settings.IP_PASSWORD_LIMIT = 1
    browser = Client()
    sign_in_password(browser, user.email, "not the password")

    response = request_reset(browser, user.email)

    assert response.status_code == 429
    assert mailoutbox == []


# --- using the link --------------------------------------------------------------------


def test_link_sets_a_new_password_without_signing_in(client, reset_link, user):
    response = set_password(client, reset_link)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert signed_in_as(client) is None
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(DEFAULT_PASSWORD)
    assert AuthEvent.objects.filter(user=user, kind=Kind.PASSWORD_RESET).count() == 1
    login_page = page(client.get(LOGIN_URL))
    assert "you will still need your second factor" in login_page
    assert client.get("/")["Location"] == f"{LOGIN_URL}?next=/"


def test_after_a_reset_the_sms_code_is_still_needed(client, reset_link, user, sms_outbox):
    set_password(client, reset_link)

    response = sign_in_password(client, user.email, NEW_PASSWORD)

    assert response["Location"] == VERIFY_URL
    assert signed_in_as(client) is None
    assert [sms.to for sms in sms_outbox] == [user.phone_number]
    client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    assert signed_in_as(client) == str(user.pk)


def test_after_a_reset_the_old_password_fails(client, reset_link, user):
    set_password(client, reset_link)

    response = sign_in_password(client, user.email, DEFAULT_PASSWORD)

    assert response.status_code == 200
    assert "Please enter a correct email address and password." in page(response)


def test_after_a_reset_an_app_user_still_needs_the_app(client, make_user, mailoutbox):
    user = make_user("app@example.com")
    TotpDevice.objects.create(user=user, secret=pyotp.random_base32(), confirmed_at=timezone.now())
    request_reset(client, user.email)
    set_password(client, link_from(mailoutbox[0]))

    response = sign_in_password(client, user.email, NEW_PASSWORD)

    assert response["Location"] == VERIFY_TOTP_URL
    assert signed_in_as(client) is None


def test_after_a_reset_an_unenrolled_user_still_enrolls(client, make_user, mailoutbox):
    user = make_user("new@example.com", phone_number="", phone_verified=False)
    request_reset(client, user.email)
    set_password(client, link_from(mailoutbox[0]))

    response = sign_in_password(client, user.email, NEW_PASSWORD)

    assert response["Location"] == "/accounts/enroll/"
    assert signed_in_as(client) is None


def test_the_link_cannot_be_used_twice(client, reset_link, user):
    set_password(client, reset_link)

    again = Client()
    opened = again.get(reset_link, follow=True)
    post = again.post(
        reset_link, {"new_password1": OTHER_PASSWORD, "new_password2": OTHER_PASSWORD}
    )

    assert BROKEN_LINK in page(opened)
    assert BROKEN_LINK in page(post)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(OTHER_PASSWORD)


def test_the_link_cannot_be_used_twice_in_the_same_browser(client, reset_link, user):
    opened = client.get(reset_link)
    form_url = opened["Location"]
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    again = client.post(
        form_url, {"new_password1": OTHER_PASSWORD, "new_password2": OTHER_PASSWORD}
    )

    assert BROKEN_LINK in page(again)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_a_tampered_link_does_not_work(client, reset_link, user):
    uid, token = reset_link.rstrip("/").split("/")[-2:]
    tampered = f"/accounts/password-reset/{uid}/{token[:-1]}{'a' if token[-1] != 'a' else 'b'}/"

    response = client.get(tampered, follow=True)

    assert BROKEN_LINK in page(response)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_an_older_link_dies_when_a_newer_one_is_used(client, user, mailoutbox):
    request_reset(client, user.email)
    request_reset(client, user.email)
    first, second = link_from(mailoutbox[0]), link_from(mailoutbox[1])
    set_password(Client(), second)

    response = Client().get(first, follow=True)

    assert BROKEN_LINK in page(response)


def test_a_reset_ends_other_sessions(client, user, mailoutbox):
    signed_in = Client()
    signed_in.force_login(user)
    assert signed_in.get("/").status_code == 200
    request_reset(client, user.email)

    set_password(client, link_from(mailoutbox[0]))

    assert signed_in.get("/")["Location"] == f"{LOGIN_URL}?next=/"


def test_a_reset_revokes_remembered_browsers(client, user, sms_outbox, mailoutbox):
    browser = Client()
    sign_in_password(browser, user.email)
    browser.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox), "remember": "on"})
    browser.post(LOGOUT_URL)
    assert TrustedBrowser.objects.filter(user=user).exists()
    request_reset(client, user.email)
    set_password(client, link_from(mailoutbox[0]))

    response = sign_in_password(browser, user.email, NEW_PASSWORD)

    assert response["Location"] == VERIFY_URL
    assert signed_in_as(browser) is None


def test_a_sign_in_after_the_request_voids_the_link(client, reset_link, user, sms_outbox):
    browser = Client()
    sign_in_password(browser, user.email)
    browser.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    response = client.get(reset_link, follow=True)

    assert BROKEN_LINK in page(response)


def test_a_weak_new_password_is_refused(client, reset_link, user):
    response = set_password(client, reset_link, password="password")

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
