"""The audit trail: every AuthEvent kind is written by the real flow, command or admin path.

Events from a request carry its IP and user agent. No event holds a code, a code hash, the
pending login's challenge, a password or the sipgate token.
"""

import io
import json
import re
from datetime import timedelta

import pytest
import responses
from django.conf import settings
from django.core.management import call_command
from django.db.models import F
from django.test import Client, override_settings
from django.utils import timezone

from accounts.exceptions import SmsTemporaryError
from accounts.models import AuthEvent, LoginCode, User
from accounts.sms.backends import sipgate as sipgate_backend
from accounts.sms.backends.base import BaseSmsBackend, SmsMessage
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox

Kind = AuthEvent.Kind
LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
RESEND_URL = "/accounts/login/resend/"
USERS_URL = "/admin/accounts/user/"
PENDING_KEY = "accounts_pending_login"
IP = "203.0.113.44"
STAFF_IP = "198.51.100.9"
UA = "AuditTest/1.0 (X11; Linux x86_64)"
STAFF_UA = "StaffBrowser/2.0"
WRONG_PASSWORD = "a wrong password 123"
CODE_IN_SMS = re.compile(r"login code: (\d{6,8})\.")

FAILING_BACKEND = "tests.test_audit.FailingSmsBackend"
attempted: list[SmsMessage] = []


class FailingSmsBackend(BaseSmsBackend):
    """Behaves like sipgate answering 503, and records what it was asked to send."""

    def send_message(self, message: SmsMessage) -> None:
        attempted.append(message)
        raise SmsTemporaryError(status=503)


@pytest.fixture(autouse=True)
def clean_attempts():
    attempted.clear()
    yield
    attempted.clear()


def browser(ip: str = IP, ua: str = UA) -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=ua)


@pytest.fixture
def staff_browser(staff_user) -> Client:
    client = browser(STAFF_IP, STAFF_UA)
    client.force_login(staff_user)
    return client


def post_password(client: Client, email: str, password: str = DEFAULT_PASSWORD):
    return client.post(LOGIN_URL, {"username": email, "password": password})


def pending_browser(user: User) -> Client:
    client = browser()
    assert post_password(client, user.email)["Location"] == VERIFY_URL
    return client


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def events(kind: str) -> list[AuthEvent]:
    return list(AuthEvent.objects.filter(kind=kind).order_by("created_at", "pk"))


def the_event(kind: str) -> AuthEvent:
    found = events(kind)
    assert len(found) == 1, f"{len(found)} {kind} events: {[e.detail for e in found]}"
    return found[0]


def assert_from_request(event: AuthEvent, ip: str = IP, ua: str = UA) -> None:
    assert event.ip_address == ip
    assert event.user_agent == ua
    assert event.created_at <= timezone.now()


def admin_action(client: Client, action: str, *users: User):
    return client.post(
        USERS_URL, {"action": action, "_selected_action": [str(u.pk) for u in users]}
    )


# --- the sign-in flow ----------------------------------------------------------------------


def test_password_ok(user, sms_outbox):
    pending_browser(user)

    event = the_event(Kind.PASSWORD_OK)
    assert event.user == user
    assert_from_request(event)


def test_password_failed_for_a_user_and_for_an_unknown_email(user):
    post_password(browser(), user.email, WRONG_PASSWORD)
    post_password(browser(), "stranger@example.com", WRONG_PASSWORD)

    known, unknown = events(Kind.PASSWORD_FAILED)
    assert known.user == user
    assert unknown.user is None
    for event in (known, unknown):
        assert_from_request(event)
    assert not events(Kind.PASSWORD_OK)


def test_code_sent_names_the_masked_phone(user, sms_outbox):
    pending_browser(user)

    event = the_event(Kind.CODE_SENT)
    assert event.user == user
    assert event.detail == user.masked_phone_number
    assert user.phone_number not in event.detail
    assert_from_request(event)


def test_code_sent_by_resend_has_the_request(user, sms_outbox):
    client = pending_browser(user)
    LoginCode.objects.update(created_at=F("created_at") - timedelta(seconds=61))

    client.post(RESEND_URL, HTTP_USER_AGENT="Resender/3.0", REMOTE_ADDR="203.0.113.45")

    first, resent = events(Kind.CODE_SENT)
    assert resent.user == user
    assert_from_request(resent, "203.0.113.45", "Resender/3.0")


@override_settings(SMS_BACKEND=FAILING_BACKEND)
def test_send_failed(user, sms_outbox):
    pending_client = browser()
    post_password(pending_client, user.email)

    event = the_event(Kind.SEND_FAILED)
    assert event.user == user
    assert "503" in event.detail
    assert_from_request(event)
    assert not events(Kind.CODE_SENT)
    assert len(attempted) == 1


def test_code_ok(user, sms_outbox):
    client = pending_browser(user)

    client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    event = the_event(Kind.CODE_OK)
    assert event.user == user
    assert_from_request(event)


def test_code_wrong(user, sms_outbox):
    client = pending_browser(user)

    client.post(VERIFY_URL, {"code": wrong_code(code_from_outbox(sms_outbox))})

    event = the_event(Kind.CODE_WRONG)
    assert event.user == user
    assert_from_request(event)
    assert not events(Kind.CODE_OK)


def test_code_expired(user, sms_outbox):
    client = pending_browser(user)
    LoginCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    event = the_event(Kind.CODE_EXPIRED)
    assert event.user == user
    assert_from_request(event)
    assert not events(Kind.CODE_OK)


@override_settings(LOGIN_LOCK_THRESHOLD=2)
def test_locked(user, sms_outbox):
    client = pending_browser(user)
    code = code_from_outbox(sms_outbox)
    client.post(VERIFY_URL, {"code": wrong_code(code)})
    assert not events(Kind.LOCKED)

    client.post(VERIFY_URL, {"code": wrong_code(code)})

    event = the_event(Kind.LOCKED)
    assert event.user == user
    assert event.detail
    assert_from_request(event)


# --- throttled: one event per refusal, naming the limit ----------------------------------


@override_settings(IP_PASSWORD_LIMIT=1)
def test_throttled_by_the_ip_limit_of_the_password_step(user, sms_outbox):
    post_password(browser(), user.email, WRONG_PASSWORD)
    post_password(browser(), user.email)

    event = the_event(Kind.THROTTLED)
    assert "ip-password" in event.detail
    assert_from_request(event)


@override_settings(IP_CODE_LIMIT=1)
def test_throttled_by_the_ip_limit_of_the_code_step(user, sms_outbox):
    client = pending_browser(user)
    code = code_from_outbox(sms_outbox)
    client.post(VERIFY_URL, {"code": wrong_code(code)})
    client.post(VERIFY_URL, {"code": code})

    event = the_event(Kind.THROTTLED)
    assert "ip-code" in event.detail
    assert event.user == user
    assert_from_request(event)


@override_settings(PASSWORD_THROTTLE_THRESHOLD=1)
def test_throttled_by_the_account_password_delay(user, sms_outbox):
    post_password(browser(), user.email, WRONG_PASSWORD)
    post_password(browser(), user.email)

    event = the_event(Kind.THROTTLED)
    assert "account-password" in event.detail
    assert_from_request(event)


def test_throttled_by_the_resend_cooldown(user, sms_outbox):
    pending_browser(user).post(RESEND_URL)

    event = the_event(Kind.THROTTLED)
    assert "resend-cooldown" in event.detail
    assert event.user == user
    assert_from_request(event)


@override_settings(LOGIN_CODE_MAX_SENDS=1)
def test_throttled_by_the_sends_per_login(user, sms_outbox):
    client = pending_browser(user)
    LoginCode.objects.update(created_at=F("created_at") - timedelta(seconds=61))
    client.post(RESEND_URL)

    event = the_event(Kind.THROTTLED)
    assert "sends-per-login" in event.detail
    assert_from_request(event)


@override_settings(SMS_PER_PHONE_DAILY=1)
def test_throttled_by_the_phone_limit(user, sms_outbox):
    pending_browser(user)
    post_password(browser(), user.email)

    event = the_event(Kind.THROTTLED)
    assert "phone-daily" in event.detail
    assert event.user == user
    assert_from_request(event)


@override_settings(SMS_ALLOWED_COUNTRIES=["AT"])
def test_throttled_by_the_destination_rules(user, sms_outbox):
    post_password(browser(), user.email)

    event = the_event(Kind.THROTTLED)
    assert "destination" in event.detail
    assert_from_request(event)
    assert sms_outbox == []


@override_settings(LOGIN_LOCK_THRESHOLD=1)
@pytest.mark.parametrize("step", ["login page", "send a new code", "code step"])
def test_throttled_by_the_lock_names_the_lock(user, sms_outbox, step):
    client = pending_browser(user)
    client.post(VERIFY_URL, {"code": wrong_code(code_from_outbox(sms_outbox))})
    assert User.objects.get(pk=user.pk).is_code_locked()
    assert not events(Kind.THROTTLED)

    if step == "login page":
        post_password(browser(), user.email)
    elif step == "send a new code":
        LoginCode.objects.update(created_at=F("created_at") - timedelta(seconds=61))
        client.post(RESEND_URL)
    else:
        client.post(VERIFY_URL, {"code": "123456"})

    event = the_event(Kind.THROTTLED)
    assert "account-code-lock" in event.detail
    assert event.user == user
    assert_from_request(event)


# --- the SMS budget ------------------------------------------------------------------------


@override_settings(SMS_BUDGET_HOURLY=1)
def test_budget_reached(user, make_user, sms_outbox):
    other = make_user("bob@example.com", phone_number="+4915111111111")
    pending_browser(user)

    post_password(browser(), other.email)

    event = the_event(Kind.BUDGET_REACHED)
    assert event.user == other
    assert "hourly" in event.detail
    assert_from_request(event)
    assert len(sms_outbox) == 1


# --- operators: command and admin ----------------------------------------------------------


@override_settings(LOGIN_LOCK_THRESHOLD=1)
def test_unlocked_by_the_twofa_unlock_command(user, sms_outbox):
    client = pending_browser(user)
    client.post(VERIFY_URL, {"code": wrong_code(code_from_outbox(sms_outbox))})
    out = io.StringIO()

    call_command("twofa_unlock", user.email, stdout=out)

    event = the_event(Kind.UNLOCKED)
    assert event.user == user
    assert "twofa_unlock" in event.detail
    assert event.ip_address is None
    assert event.user_agent == ""
    assert not User.objects.get(pk=user.pk).is_code_locked()
    assert "unlocked" in out.getvalue()


def test_unlocked_by_the_admin_action(staff_browser, staff_user, user):
    User.objects.filter(pk=user.pk).update(
        locked_until=timezone.now() + timedelta(minutes=15), code_lockouts=1
    )

    response = admin_action(staff_browser, "unlock_second_factor", user)

    assert response.status_code == 302
    event = the_event(Kind.UNLOCKED)
    assert event.user == user
    assert staff_user.email in event.detail
    assert_from_request(event, STAFF_IP, STAFF_UA)
    assert not User.objects.get(pk=user.pk).is_code_locked()


def test_admin_action_reset_second_factor(staff_browser, staff_user, user, sms_outbox):
    pending_browser(user)
    assert LoginCode.objects.filter(voided_at__isnull=True).count() == 1

    response = admin_action(staff_browser, "reset_second_factor", user)

    assert response.status_code == 302
    event = the_event(Kind.ADMIN_ACTION)
    assert event.user == user
    assert "second factor reset" in event.detail
    assert staff_user.email in event.detail
    assert_from_request(event, STAFF_IP, STAFF_UA)
    assert not LoginCode.objects.filter(voided_at__isnull=True).exists()


def test_admin_action_sign_out_of_all_sessions(staff_browser, staff_user, make_user):
    first = make_user("one@example.com")
    second = make_user("two@example.com", phone_number="+4915111111111")

    response = admin_action(staff_browser, "end_all_sessions", first, second)

    assert response.status_code == 302
    found = events(Kind.ADMIN_ACTION)
    assert {e.user for e in found} == {first, second}
    for event in found:
        assert "signed out everywhere" in event.detail
        assert_from_request(event, STAFF_IP, STAFF_UA)


def test_phone_changed_in_the_admin_change_form(staff_browser, staff_user, user):
    response = staff_browser.post(
        f"{USERS_URL}{user.pk}/change/",
        {
            "email": user.email,
            "phone_number": "0170 1234567",
            "is_active": "on",
            "_save": "Save",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    event = the_event(Kind.PHONE_CHANGED)
    assert event.user == user
    assert staff_user.email in event.detail
    assert "+491701234567" not in event.detail
    assert_from_request(event, STAFF_IP, STAFF_UA)


def test_saving_the_admin_form_without_a_new_phone_writes_no_phone_event(staff_browser, user):
    staff_browser.post(
        f"{USERS_URL}{user.pk}/change/",
        {"email": user.email, "phone_number": user.phone_number, "is_active": "on"},
    )

    assert not events(Kind.PHONE_CHANGED)


# --- nothing secret in the trail -----------------------------------------------------------


SIPGATE_SETTINGS = {
    "SMS_BACKEND": "accounts.sms.backends.sipgate.SmsBackend",
    "SIPGATE_API_URL": "https://api.sipgate.test/v2",
    "SIPGATE_TOKEN_ID": "token-AUDIT1",
    "SIPGATE_TOKEN": "0b5c3f0e-8d7a-4c1e-9f2b-7a6d5e4c3b2a",
    "SIPGATE_SMS_ID": "s0",
}


@pytest.fixture
def sipgate():
    sipgate_backend.shared_client.cache_clear()
    with (
        override_settings(**SIPGATE_SETTINGS),
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):
        yield mock
    sipgate_backend.shared_client.cache_clear()


def sipgate_codes(mock) -> list[str]:
    """Return the codes in every SMS that was posted to the fake sipgate."""
    codes = []
    for call in mock.calls:
        body = json.loads(call.request.body)
        codes += CODE_IN_SMS.findall(body.get("message", ""))
    return codes


def test_no_event_holds_a_code_hash_challenge_password_or_token(
    sipgate, user, staff_user, sms_outbox
):
    url = f"{SIPGATE_SETTINGS['SIPGATE_API_URL']}/sessions/sms"
    token = SIPGATE_SETTINGS["SIPGATE_TOKEN"]
    # sipgate refuses once, with a body that (wrongly) echoes the token, then accepts.
    sipgate.post(url, status=401, body=f'{{"error": "bad token {token}"}}')
    sipgate.post(url, status=204)
    sipgate.post(url, status=204)
    sipgate.post(url, status=204)

    challenges = []
    client = browser()
    post_password(client, user.email, WRONG_PASSWORD)
    post_password(client, user.email)  # SMS fails (401)
    challenges.append(client.session[PENDING_KEY]["challenge"])
    LoginCode.objects.update(created_at=F("created_at") - timedelta(seconds=61))
    client.post(RESEND_URL)  # sent
    sent = sipgate_codes(sipgate)[-1]
    client.post(VERIFY_URL, {"code": wrong_code(sent)})
    LoginCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.post(VERIFY_URL, {"code": sent})  # expired
    LoginCode.objects.update(created_at=F("created_at") - timedelta(seconds=61))
    client.post(RESEND_URL)
    client.post(VERIFY_URL, {"code": sipgate_codes(sipgate)[-1]})  # signed in
    second = browser()
    post_password(second, user.email)
    challenges.append(second.session[PENDING_KEY]["challenge"])
    call_command("twofa_unlock", user.email, stdout=io.StringIO())

    assert {e.kind for e in AuthEvent.objects.all()} >= {
        Kind.PASSWORD_FAILED,
        Kind.PASSWORD_OK,
        Kind.SEND_FAILED,
        Kind.CODE_SENT,
        Kind.CODE_WRONG,
        Kind.CODE_EXPIRED,
        Kind.CODE_OK,
        Kind.UNLOCKED,
    }
    secrets = {
        token,
        settings.SECRET_KEY,
        DEFAULT_PASSWORD,
        WRONG_PASSWORD,
        *sipgate_codes(sipgate),
        *LoginCode.objects.values_list("code_hash", flat=True),
        *challenges,
    }
    assert len(sipgate_codes(sipgate)) == 4
    rows = list(AuthEvent.objects.values())
    assert rows
    for row in rows:
        text = " ".join(str(value) for value in row.values())
        leaked = [s for s in secrets if s and s in text]
        assert not leaked, (row, leaked)


def test_no_event_holds_a_code_from_the_locmem_outbox(user, sms_outbox):
    client = pending_browser(user)
    code = code_from_outbox(sms_outbox)
    challenge = client.session[PENDING_KEY]["challenge"]
    client.post(VERIFY_URL, {"code": wrong_code(code)})
    client.post(VERIFY_URL, {"code": code})

    forbidden = {code, wrong_code(code), challenge, LoginCode.objects.get().code_hash}
    for row in AuthEvent.objects.values():
        text = " ".join(str(value) for value in row.values())
        assert not [s for s in forbidden if s in text], row


# --- trimming the trail --------------------------------------------------------------------


def make_event(days_old: float, kind: str = Kind.PASSWORD_OK) -> AuthEvent:
    return AuthEvent.objects.create(
        kind=kind, created_at=timezone.now() - timedelta(days=days_old)
    )


@pytest.mark.django_db
def test_purge_auth_events_deletes_only_older_rows_and_prints_the_count():
    old = [make_event(91), make_event(400, Kind.CODE_WRONG), make_event(90.01)]
    kept = [make_event(89.9), make_event(10), make_event(0)]
    out = io.StringIO()

    call_command("purge_auth_events", "--older-than", "90", stdout=out)

    assert "3" in out.getvalue()
    assert re.search(r"\b3 events\b", out.getvalue()), out.getvalue()
    remaining = set(AuthEvent.objects.values_list("pk", flat=True))
    assert remaining == {e.pk for e in kept}
    assert not remaining & {e.pk for e in old}


@pytest.mark.django_db
def test_purge_auth_events_with_nothing_to_delete():
    make_event(1)
    out = io.StringIO()

    call_command("purge_auth_events", "--older-than", "30", stdout=out)

    assert re.search(r"\b0 events\b", out.getvalue()), out.getvalue()
    assert AuthEvent.objects.count() == 1


@pytest.mark.django_db
def test_purge_auth_events_singular():
    make_event(40)
    out = io.StringIO()

    call_command("purge_auth_events", "--older-than=30", stdout=out)

    assert re.search(r"\b1 event\b", out.getvalue()), out.getvalue()
    assert AuthEvent.objects.count() == 0
