"""Recovery codes: generation behind re-authentication, format and strength, storage only as
hashes, the download, regeneration, and single-use sign-in with its notices and limits."""

import io
import math
import re
from urllib.parse import unquote

import pyotp
import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import AuthEvent, RecoveryCode, TotpDevice, User
from accounts.services.recovery import HASHER
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox, sign_in_password

Kind = AuthEvent.Kind

VERIFY_URL = "/accounts/login/verify/"
VERIFY_TOTP_URL = "/accounts/login/verify/totp/"
RECOVERY_URL = "/accounts/login/verify/recovery/"
LOGOUT_URL = "/accounts/logout/"
SECURITY_URL = "/accounts/security/"
CONFIRM_URL = "/accounts/security/confirm/"
CODES_URL = "/accounts/security/recovery/"

CODE_FORMAT = re.compile(r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$")
SHOWN_CODE = re.compile(r"<code>([^<]+)</code>")
WRONG = "That recovery code is not right or was already used."
FORMAT_ERROR = "Enter a recovery code like abcd-efgh-ijkl-mnop."
LOCKED = "Sign-in to this account is temporarily blocked"


def page(response) -> str:
    return response.content.decode()


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def reauth_by_sms(client: Client, sms_outbox, next_url: str = CODES_URL):
    client.post(CONFIRM_URL, {"send_code": "1", "next": next_url})
    response = client.post(
        CONFIRM_URL,
        {"password": DEFAULT_PASSWORD, "code": code_from_outbox(sms_outbox), "next": next_url},
    )
    assert response["Location"] == next_url
    return response


def generate(client: Client) -> tuple[list[str], object]:
    """POST the recovery page; returns the codes shown and the response."""
    response = client.post(CODES_URL)
    assert response.status_code == 200
    return SHOWN_CODE.findall(page(response)), response


@pytest.fixture
def codes_client(client, user, sms_outbox) -> Client:
    client.force_login(user)
    reauth_by_sms(client, sms_outbox)
    return client


@pytest.fixture
def codes(codes_client) -> list[str]:
    shown, _ = generate(codes_client)
    return shown


def start_sign_in(user: User) -> Client:
    browser = Client()
    response = sign_in_password(browser, user.email)
    assert response.status_code == 302
    return browser


# --- generating ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_generation_needs_recent_reauthentication(client, user, method):
    client.force_login(user)

    response = getattr(client, method)(CODES_URL)

    assert response.status_code == 302
    assert response["Location"] == f"{CONFIRM_URL}?next={CODES_URL}"
    assert not RecoveryCode.objects.exists()


def test_ten_codes_in_the_documented_format(codes_client, user):
    shown, response = generate(codes_client)

    assert len(shown) == 10
    assert len(set(shown)) == 10
    for code in shown:
        assert CODE_FORMAT.match(code), code
        compact = code.replace("-", "")
        bits = len(compact) * math.log2(32)
        assert bits >= 64
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() == 10
    assert AuthEvent.objects.filter(user=user, kind=Kind.RECOVERY_GENERATED).count() == 1
    assert "They are shown only now." in page(response)


def test_codes_are_random_per_generation(codes_client):
    first, _ = generate(codes_client)
    second, _ = generate(codes_client)

    assert not set(first) & set(second)


def test_codes_are_stored_only_as_hashes(codes_client, codes):
    forms = {c for code in codes for c in (code, code.replace("-", ""), code.upper())}
    for model in apps.get_models():
        for row in model.objects.all():
            for field in model._meta.concrete_fields:
                value = str(field.value_from_object(row))
                leaked = [form for form in forms if form in value.lower()]
                assert not leaked, f"{model.__name__}.{field.name} holds a recovery code"
    for session in Session.objects.all():
        decoded = str(session.get_decoded()).lower()
        assert not [form for form in forms if form.lower() in decoded], "a code in a session"
    for row in RecoveryCode.objects.all():
        assert row.code_hash.startswith("pbkdf2_sha256_recovery$")


def test_download_link_is_a_data_uri_with_the_codes(codes_client):
    shown, response = generate(codes_client)

    match = re.search(r'href="(data:text/plain[^"]*)"[^>]*download="([^"]+)"', page(response))

    assert match
    text = unquote(match.group(1).split(",", 1)[1])
    assert text.split() == shown
    assert match.group(2).endswith(".txt")


def test_codes_are_shown_only_once(codes_client, codes):
    again = codes_client.get(CODES_URL)

    assert again.status_code == 200
    assert not any(code in page(again) for code in codes)
    assert SHOWN_CODE.findall(page(again)) == []


def test_security_page_shows_how_many_are_left(codes_client, codes):
    assert '<span id="recovery-left">10 left</span>' in page(codes_client.get(SECURITY_URL))


def test_security_page_without_codes_shows_none_left(client, user):
    client.force_login(user)

    html = page(client.get(SECURITY_URL))

    assert '<span id="recovery-left">0 left</span>' in html
    assert "Create codes" in html


def test_regeneration_voids_the_old_set(codes_client, user, codes):
    new_codes, _ = generate(codes_client)

    assert RecoveryCode.objects.filter(user=user).count() == 10
    old = start_sign_in(user)
    response = old.post(RECOVERY_URL, {"code": codes[0]})
    assert WRONG in page(response)
    assert signed_in_as(old) is None
    fresh = start_sign_in(user)
    assert fresh.post(RECOVERY_URL, {"code": new_codes[0]})["Location"] == "/"


# --- signing in with a code ------------------------------------------------------------


def test_verify_page_offers_a_recovery_code_only_to_users_with_codes(client, user):
    sign_in_password(client, user.email)
    without = page(client.get(VERIFY_URL))
    RecoveryCode.objects.create(user=user, code_hash="x")
    with_codes = page(client.get(VERIFY_URL))

    assert RECOVERY_URL not in without
    assert RECOVERY_URL in with_codes


def test_a_code_signs_in_once_and_warns_how_many_remain(codes, user, mailoutbox):
    browser = start_sign_in(user)

    response = browser.post(RECOVERY_URL, {"code": codes[3]}, follow=True)

    assert response.redirect_chain == [("/", 302)]
    assert signed_in_as(browser) == str(user.pk)
    assert "You have 9 recovery codes left." in page(response)
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() == 9
    event = AuthEvent.objects.get(user=user, kind=Kind.RECOVERY_USED)
    assert event.detail == "9 left"
    assert codes[3] not in event.detail
    assert '<span id="recovery-left">9 left</span>' in page(browser.get(SECURITY_URL))


def test_a_code_use_emails_the_user(codes, user, mailoutbox):
    browser = start_sign_in(user)

    browser.post(RECOVERY_URL, {"code": codes[0]})

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [user.email]
    assert "recovery code was used" in mail.subject
    assert "9 recovery code(s) left" in mail.body
    assert codes[0] not in mail.body


def test_a_used_code_is_refused(codes, user, mailoutbox):
    first = start_sign_in(user)
    assert first.post(RECOVERY_URL, {"code": codes[0]})["Location"] == "/"

    second = start_sign_in(user)
    response = second.post(RECOVERY_URL, {"code": codes[0]})

    assert response.status_code == 200
    assert WRONG in page(response)
    assert signed_in_as(second) is None
    assert len(mailoutbox) == 1
    assert AuthEvent.objects.filter(user=user, kind=Kind.CODE_WRONG).count() == 1


def test_the_last_codes_come_with_a_warning(codes, user):
    keep = codes[0].replace("-", "")
    others = [
        row.pk
        for row in RecoveryCode.objects.filter(user=user)
        if not HASHER.verify(keep, row.code_hash)
    ]
    RecoveryCode.objects.filter(pk__in=others[:8]).update(used_at=timezone.now())
    browser = start_sign_in(user)

    response = browser.post(RECOVERY_URL, {"code": codes[0]}, follow=True)

    assert (
        '<li class="message warning">You signed in with a recovery code. '
        "You have 1 recovery code left." in page(response)
    )


def test_codes_are_accepted_in_capitals_and_with_spaces(codes, user):
    browser = start_sign_in(user)
    typed = " " + codes[1].upper().replace("-", " ") + " "

    response = browser.post(RECOVERY_URL, {"code": typed})

    assert response["Location"] == "/"
    assert signed_in_as(browser) == str(user.pk)


def test_a_code_of_another_user_is_refused(codes, make_user):
    other = make_user("bob@example.com")
    browser = start_sign_in(other)

    response = browser.post(RECOVERY_URL, {"code": codes[0]})

    assert WRONG in page(response)
    assert signed_in_as(browser) is None
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 0


def test_malformed_codes_are_form_errors_and_not_counted(codes, user):
    browser = start_sign_in(user)

    response = browser.post(RECOVERY_URL, {"code": "abc1-def8-hijk-lmn0"})

    assert FORMAT_ERROR in page(response)
    user.refresh_from_db()
    assert user.code_failures == 0


def test_wrong_codes_lock_the_account(codes, user, settings):
    settings.LOGIN_LOCK_THRESHOLD = 3
    browser = start_sign_in(user)
    wrong = ["aaaa-bbbb-cccc-dddd", "eeee-ffff-gggg-hhhh", "iiii-jjjj-kkkk-llll"]

    responses = [browser.post(RECOVERY_URL, {"code": code}) for code in wrong]
    after = browser.post(RECOVERY_URL, {"code": codes[5]})

    assert WRONG in page(responses[0])
    assert responses[-1].status_code == 429
    assert LOCKED in page(responses[-1])
    assert after.status_code == 429
    assert signed_in_as(browser) is None
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 0
    user.refresh_from_db()
    assert user.is_code_locked()


def test_recovery_code_needs_the_password_step_first(codes, user):
    browser = Client()

    response = browser.post(RECOVERY_URL, {"code": codes[0]})

    assert response["Location"] == "/accounts/login/"
    assert signed_in_as(browser) is None
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 0


def test_totp_user_can_use_a_recovery_code_without_any_sms(make_user, sms_outbox):
    user = make_user("lostphone@example.com")
    TotpDevice.objects.create(user=user, secret=pyotp.random_base32(), confirmed_at=timezone.now())
    out = io.StringIO()
    call_command("recovery_codes", user.email, stdout=out)
    code = next(line for line in out.getvalue().split() if CODE_FORMAT.match(line))
    browser = Client()
    assert sign_in_password(browser, user.email)["Location"] == VERIFY_TOTP_URL
    assert RECOVERY_URL in page(browser.get(VERIFY_TOTP_URL))

    response = browser.post(RECOVERY_URL, {"code": code})

    assert response["Location"] == "/"
    assert signed_in_as(browser) == str(user.pk)
    assert sms_outbox == []
