"""Second factors in the admin and in the support commands: what staff see, the reset and
revoke actions, phone edits by an admin, and twofa_reset / recovery_codes / createuser."""

import io
import re
from datetime import timedelta

import pyotp
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from accounts.models import AuthEvent, LoginCode, RecoveryCode, TotpDevice, TrustedBrowser, User
from tests.conftest import code_from_outbox, sign_in_password

Kind = AuthEvent.Kind

VERIFY_URL = "/accounts/login/verify/"
ENROLL_URL = "/accounts/enroll/"
RECOVERY_URL = "/accounts/login/verify/recovery/"
LOGOUT_URL = "/accounts/logout/"
USERS_URL = "/admin/accounts/user/"
AGENT = "Mozilla/5.0 (RememberedBrowser 2.0)"
CODE_FORMAT = re.compile(r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$")
NEW_PASSWORD = "a-long-and-unusual-passphrase-91"


def page(response) -> str:
    return response.content.decode()


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def table_row(html: str, text: str) -> str:
    rows = [row for row in re.findall(r"<tr.*?</tr>", html, re.DOTALL) if text in row]
    assert len(rows) == 1, f"{len(rows)} rows contain {text!r}"
    return rows[0]


def readonly_value(html: str, field: str) -> str:
    match = re.search(rf'field-{field}.*?<div class="readonly">(.*?)</div>', html, re.DOTALL)
    assert match, f"no read-only {field} on the page"
    return match.group(1).strip()


@pytest.fixture
def staff_client(client, staff_user) -> Client:
    client.force_login(staff_user)
    return client


def run_action(client: Client, action: str, *users: User, follow: bool = True):
    return client.post(
        USERS_URL,
        {"action": action, "_selected_action": [u.pk for u in users], "index": "0"},
        follow=follow,
    )


@pytest.fixture
def remembered(user, sms_outbox) -> Client:
    """A browser `user` chose to remember (signed out again, keeping the cookie)."""
    browser = Client(HTTP_USER_AGENT=AGENT)
    sign_in_password(browser, user.email)
    response = browser.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox), "remember": "on"})
    assert "twofa_trusted" in response.cookies
    browser.post(LOGOUT_URL)
    return browser


@pytest.fixture
def full_user(user, remembered) -> User:
    """`user` with a verified phone, an authenticator, 10 recovery codes and a remembered
    browser."""
    TotpDevice.objects.create(user=user, secret=pyotp.random_base32(), confirmed_at=timezone.now())
    run("recovery_codes", user.email)
    return user


# --- what staff see --------------------------------------------------------------------


def test_user_list_shows_each_users_factors(staff_client, full_user, make_user):
    make_user("plain@example.com", phone_number="", phone_verified=False)

    html = page(staff_client.get(USERS_URL))

    assert "phone verified, app on, 10 recovery codes" in table_row(html, full_user.email)
    assert "phone not verified, app off, 0 recovery codes" in table_row(html, "plain@example.com")


def test_user_list_counts_only_unused_recovery_codes(staff_client, full_user):
    RecoveryCode.objects.filter(pk__in=RecoveryCode.objects.values("pk")[:3]).update(
        used_at=timezone.now()
    )

    html = page(staff_client.get(USERS_URL))

    assert "7 recovery codes" in table_row(html, full_user.email)


def test_user_list_ignores_an_unconfirmed_authenticator(staff_client, user):
    TotpDevice.objects.create(user=user, secret=pyotp.random_base32())

    html = page(staff_client.get(USERS_URL))

    assert "app off" in table_row(html, user.email)


def test_change_page_shows_factors_and_remembered_browsers(staff_client, full_user):
    device = TotpDevice.objects.get(user=full_user)

    html = page(staff_client.get(f"{USERS_URL}{full_user.pk}/change/"))

    assert readonly_value(html, "factors") == "phone verified, app on, 10 recovery codes"
    assert AGENT[:40] in readonly_value(html, "trusted_browser_list")
    assert device.secret not in html
    for row in RecoveryCode.objects.filter(user=full_user):
        assert row.code_hash not in html
    for browser in TrustedBrowser.objects.filter(user=full_user):
        assert browser.token_hash not in html


def test_change_page_without_remembered_browsers_says_none(staff_client, user):
    html = page(staff_client.get(f"{USERS_URL}{user.pk}/change/"))

    assert readonly_value(html, "trusted_browser_list") == "none"


@pytest.mark.django_db
def test_non_staff_cannot_see_the_user_admin(client, user):
    client.force_login(user)

    response = client.get(USERS_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- actions ---------------------------------------------------------------------------


def test_reset_all_factors_clears_everything(staff_client, staff_user, full_user):
    User.objects.filter(pk=full_user.pk).update(
        locked_until=timezone.now() + timedelta(hours=1), code_failures=4
    )

    response = run_action(staff_client, "reset_all_factors", full_user)

    assert "1 user(s) second factors cleared." in page(response)
    full_user.refresh_from_db()
    assert full_user.phone_verified_at is None
    assert full_user.phone_number  # kept on record, to be confirmed again
    assert not TotpDevice.objects.filter(user=full_user).exists()
    assert not RecoveryCode.objects.filter(user=full_user).exists()
    assert not TrustedBrowser.objects.filter(user=full_user, revoked_at__isnull=True).exists()
    assert not full_user.is_code_locked()
    event = AuthEvent.objects.get(user=full_user, kind=Kind.FACTORS_RESET)
    assert staff_user.email in event.detail


def test_reset_all_factors_forces_enrollment(staff_client, full_user, remembered, sms_outbox):
    run_action(staff_client, "reset_all_factors", full_user)
    sent = len(sms_outbox)

    response = sign_in_password(remembered, full_user.email)

    assert response["Location"] == ENROLL_URL
    assert signed_in_as(remembered) is None
    assert len(sms_outbox) == sent
    enroll = page(remembered.get(ENROLL_URL))
    assert "disabled" in re.search(r'<input[^>]*name="phone_number"[^>]*>', enroll).group(0)


def test_reset_all_factors_voids_open_codes(staff_client, user, sms_outbox):
    pending = Client()
    sign_in_password(pending, user.email)
    code = code_from_outbox(sms_outbox)

    run_action(staff_client, "reset_all_factors", user)

    assert LoginCode.objects.filter(user=user).open().count() == 0
    response = pending.post(VERIFY_URL, {"code": code})
    assert "There is no valid code for this sign-in" in page(response)
    assert signed_in_as(pending) is None


def test_reset_all_factors_touches_only_the_selected_users(staff_client, full_user, make_user):
    bob = make_user("bob@example.com", phone_number="+4915122222222")
    TotpDevice.objects.create(user=bob, secret=pyotp.random_base32(), confirmed_at=timezone.now())

    run_action(staff_client, "reset_all_factors", full_user)

    bob.refresh_from_db()
    assert bob.phone_verified_at is not None
    assert TotpDevice.objects.filter(user=bob).exists()


def test_revoke_trusted_browsers_action(staff_client, staff_user, user, remembered, sms_outbox):
    response = run_action(staff_client, "revoke_trusted_browsers", user)

    assert "1 user(s) remembered browsers revoked." in page(response)
    assert TrustedBrowser.objects.get(user=user).revoked_at is not None
    event = AuthEvent.objects.get(user=user, kind=Kind.TRUSTED_BROWSER_REVOKED)
    assert staff_user.email in event.detail
    assert sign_in_password(remembered, user.email)["Location"] == VERIFY_URL
    assert signed_in_as(remembered) is None
    html = page(staff_client.get(f"{USERS_URL}{user.pk}/change/"))
    assert readonly_value(html, "trusted_browser_list") == "none"


def test_revoke_trusted_browsers_keeps_the_other_factors(staff_client, full_user):
    run_action(staff_client, "revoke_trusted_browsers", full_user)

    full_user.refresh_from_db()
    assert full_user.has_verified_phone
    assert TotpDevice.objects.filter(user=full_user).exists()
    assert RecoveryCode.objects.filter(user=full_user).count() == 10


def test_end_all_sessions_action_stops_remembered_browsers(
    staff_client, user, remembered, sms_outbox
):
    run_action(staff_client, "end_all_sessions", user)

    assert sign_in_password(remembered, user.email)["Location"] == VERIFY_URL


# --- phone edits by an admin -----------------------------------------------------------


def change_data(user: User, **overrides) -> dict:
    return {
        "email": user.email,
        "phone_number": user.phone_number,
        "is_active": "on",
        "_save": "Save",
        **overrides,
    }


def test_editing_the_phone_clears_its_verification(staff_client, staff_user, user, sms_outbox):
    response = staff_client.post(
        f"{USERS_URL}{user.pk}/change/", change_data(user, phone_number="0176 12345678")
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.phone_number == "+4917612345678"
    assert user.phone_verified_at is None
    event = AuthEvent.objects.get(user=user, kind=Kind.PHONE_CHANGED)
    assert staff_user.email in event.detail
    assert sms_outbox == []


def test_after_an_admin_phone_edit_the_user_confirms_at_sign_in(staff_client, user, sms_outbox):
    staff_client.post(
        f"{USERS_URL}{user.pk}/change/", change_data(user, phone_number="+4917612345678")
    )
    browser = Client()

    response = sign_in_password(browser, user.email)

    assert response["Location"] == ENROLL_URL
    assert sms_outbox == []
    browser.post(ENROLL_URL, {})
    assert [sms.to for sms in sms_outbox] == ["+4917612345678"]
    browser.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    user.refresh_from_db()
    assert user.has_verified_phone
    assert signed_in_as(browser) == str(user.pk)


def test_editing_other_fields_keeps_the_verification(staff_client, user):
    verified_at = user.phone_verified_at

    staff_client.post(f"{USERS_URL}{user.pk}/change/", change_data(user, is_active=""))

    user.refresh_from_db()
    assert not user.is_active
    assert user.phone_verified_at == verified_at


def test_retyping_the_same_number_keeps_the_verification(staff_client, user):
    staff_client.post(
        f"{USERS_URL}{user.pk}/change/", change_data(user, phone_number="0151 23456789")
    )

    user.refresh_from_db()
    assert user.phone_verified_at is not None


def test_a_user_added_in_the_admin_enrolls_at_first_sign_in(staff_client, sms_outbox):
    response = staff_client.post(
        f"{USERS_URL}add/",
        {
            "email": "fresh@example.com",
            "phone_number": "",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    browser = Client()

    login = sign_in_password(browser, "fresh@example.com", NEW_PASSWORD)

    assert login["Location"] == ENROLL_URL
    assert sms_outbox == []


# --- commands --------------------------------------------------------------------------


def test_twofa_reset_clears_the_factors_and_forces_enrollment(full_user, remembered, sms_outbox):
    out = run("twofa_reset", full_user.email.upper())

    assert "second factors cleared; enrollment at next sign-in" in out
    full_user.refresh_from_db()
    assert full_user.phone_verified_at is None
    assert not TotpDevice.objects.filter(user=full_user).exists()
    assert not RecoveryCode.objects.filter(user=full_user).exists()
    assert AuthEvent.objects.filter(user=full_user, kind=Kind.FACTORS_RESET).count() == 1
    sent = len(sms_outbox)
    assert sign_in_password(remembered, full_user.email)["Location"] == ENROLL_URL
    assert len(sms_outbox) == sent


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["twofa_reset", "recovery_codes"])
def test_commands_refuse_an_unknown_email(command):
    with pytest.raises(CommandError, match="No user with the email"):
        run(command, "nobody@example.com")


def test_recovery_codes_command_prints_ten_codes_that_work_once(user, sms_outbox, mailoutbox):
    out = run("recovery_codes", user.email)
    codes = [line for line in out.split() if CODE_FORMAT.match(line)]

    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert RecoveryCode.objects.filter(user=user).count() == 10
    assert AuthEvent.objects.filter(user=user, kind=Kind.RECOVERY_GENERATED).count() == 1
    first = Client()
    sign_in_password(first, user.email)
    assert first.post(RECOVERY_URL, {"code": codes[0]})["Location"] == "/"
    second = Client()
    sign_in_password(second, user.email)
    reused = second.post(RECOVERY_URL, {"code": codes[0]})
    assert reused.status_code == 200
    assert signed_in_as(second) is None
    assert second.post(RECOVERY_URL, {"code": codes[1]})["Location"] == "/"


def test_recovery_codes_command_voids_the_old_set(user):
    old = [line for line in run("recovery_codes", user.email).split() if CODE_FORMAT.match(line)]

    new = [line for line in run("recovery_codes", user.email).split() if CODE_FORMAT.match(line)]

    assert not set(old) & set(new)
    assert RecoveryCode.objects.filter(user=user).count() == 10
    browser = Client()
    sign_in_password(browser, user.email)
    assert browser.post(RECOVERY_URL, {"code": old[0]}).status_code == 200
    assert signed_in_as(browser) is None


def test_recovery_codes_command_stores_no_code_in_clear(user):
    codes = [line for line in run("recovery_codes", user.email).split() if CODE_FORMAT.match(line)]

    stored = " ".join(RecoveryCode.objects.values_list("code_hash", flat=True))
    details = " ".join(AuthEvent.objects.values_list("detail", flat=True))
    for code in codes:
        assert code not in stored
        assert code.replace("-", "") not in stored
        assert code not in details


@pytest.fixture
def user_password(monkeypatch):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", NEW_PASSWORD)


@pytest.mark.django_db
def test_createuser_verified_marks_the_phone_confirmed(user_password, sms_outbox):
    out = run(
        "createuser", "Made@Example.com", "--phone", "0176 12345678", "--verified", "--noinput"
    )

    assert "Created user made@example.com." in out
    made = User.objects.get(email="made@example.com")
    assert made.phone_number == "+4917612345678"
    assert made.phone_verified_at is not None
    browser = Client()
    assert sign_in_password(browser, made.email, NEW_PASSWORD)["Location"] == VERIFY_URL
    assert [sms.to for sms in sms_outbox] == ["+4917612345678"]


@pytest.mark.django_db
def test_createuser_without_verified_needs_enrollment(user_password, sms_outbox):
    run("createuser", "made@example.com", "--phone", "+4917612345678", "--noinput")

    made = User.objects.get(email="made@example.com")
    assert made.phone_verified_at is None
    browser = Client()
    assert sign_in_password(browser, made.email, NEW_PASSWORD)["Location"] == ENROLL_URL
    assert sms_outbox == []


@pytest.mark.django_db
def test_createuser_rejects_a_landline_even_with_verified(user_password):
    with pytest.raises(CommandError, match="Invalid phone number"):
        run(
            "createuser",
            "made@example.com",
            "--phone",
            "+49 30 12345678",
            "--verified",
            "--noinput",
        )

    assert not User.objects.filter(email="made@example.com").exists()
