"""The operator's commands for the abuse limits: twofa_status, twofa_unlock, sms_budget,
purge_auth_events, and the destination and budget checks of send_test_sms and createuser.

Commands run through `call_command` with captured output; SMS go to the locmem outbox.
"""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import AuthEvent, SmsSend, User
from tests.conftest import DEFAULT_PASSWORD, sign_in_password

PHONE = "+4915123456789"
PASSWORD = "a long and unusual passphrase 42"
COUNTRY_ERROR = "Codes can only be sent to numbers from DE, AT, CH."
NOT_MOBILE = (
    "Enter a mobile number: landline, premium-rate and shared-cost numbers cannot receive codes."
)
BUDGET_MESSAGE = "We cannot send codes right now. Please try again later."

Kind = AuthEvent.Kind


def run(*args: str, **options) -> str:
    """Run a command and return what it wrote to stdout."""
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def sms_rows(count: int, *, phone: str = PHONE, user=None, age=timedelta(0)) -> None:
    when = timezone.now() - age
    SmsSend.objects.bulk_create(
        SmsSend(phone_number=phone, user=user, created_at=when, delivered=True)
        for _ in range(count)
    )


def lock(user: User, *, minutes: int = 15, failures: int = 0) -> User:
    User.objects.filter(pk=user.pk).update(
        locked_until=timezone.now() + timedelta(minutes=minutes),
        code_failures=failures,
        code_lockouts=2,
    )
    user.refresh_from_db()
    return user


def lock_text(user: User) -> str:
    return f"locked until {timezone.localtime(user.locked_until):%Y-%m-%d %H:%M %Z}"


# -- twofa_status ---------------------------------------------------------------------------


def test_twofa_status_lists_every_user_in_email_order(make_user):
    carol = lock(make_user("carol@example.com", phone_number="+4917011111122"), failures=0)
    make_user("alice@example.com", phone_number=PHONE, code_failures=4)
    make_user("bob@example.com", phone_number="")
    sms_rows(2, phone=PHONE, age=timedelta(minutes=3))
    sms_rows(1, phone=PHONE, age=timedelta(hours=23, minutes=59))
    sms_rows(3, phone=PHONE, age=timedelta(hours=24, minutes=1))  # out of the window
    sms_rows(1, phone="+4917011111122")

    lines = run("twofa_status").splitlines()

    assert lines == [
        "alice@example.com: phone +49 •••••••••89, not locked, 4 wrong code(s) in a row, "
        "3 SMS in 24 h",
        "bob@example.com: phone none, not locked, 0 wrong code(s) in a row, 0 SMS in 24 h",
        f"carol@example.com: phone +49 •••••••••22, {lock_text(carol)}, "
        "0 wrong code(s) in a row, 1 SMS in 24 h",
    ]


def test_twofa_status_never_prints_a_full_number(make_user):
    make_user("alice@example.com", phone_number=PHONE)
    make_user("bob@example.com", phone_number="+436641234567")

    out = run("twofa_status")

    for number in (PHONE, "15123456789", "+436641234567", "6641234567"):
        assert number not in out
    assert "+43 ••••••••67" in out


def test_twofa_status_for_named_users(make_user):
    make_user("alice@example.com")
    bob = lock(make_user("bob@example.com", phone_number="+4917022222233"), failures=9)
    make_user("carol@example.com")

    lines = run("twofa_status", "BOB@example.com", " alice@example.com ").splitlines()

    assert len(lines) == 2
    assert lines[0].startswith("bob@example.com: phone +49 •••••••••33, locked until ")
    assert lock_text(bob) in lines[0]
    assert "9 wrong code(s) in a row" in lines[0]
    assert lines[1].startswith("alice@example.com: ")
    assert "not locked" in lines[1]
    assert "carol" not in "\n".join(lines)


def test_twofa_status_shows_an_expired_lock_as_not_locked(user):
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - timedelta(seconds=1))

    assert "not locked" in run("twofa_status", user.email)


def test_twofa_status_follows_a_real_lock(user, sms_outbox):
    with override_settings(LOGIN_LOCK_THRESHOLD=2, LOGIN_CODE_MAX_ATTEMPTS=5):
        browser = Client()
        sign_in_password(browser, user.email)
        for wrong in ("000000", "111111"):
            browser.post("/accounts/login/verify/", {"code": wrong})

    out = run("twofa_status", user.email)

    user.refresh_from_db()
    assert user.is_code_locked()
    assert lock_text(user) in out
    assert "1 SMS in 24 h" in out


@pytest.mark.django_db
def test_twofa_status_without_users():
    assert run("twofa_status").strip() == "No users."


def test_twofa_status_unknown_email_is_an_error(user):
    out = io.StringIO()

    with pytest.raises(CommandError) as excinfo:
        call_command("twofa_status", user.email, "nobody@example.com", stdout=out)

    assert str(excinfo.value) == "No user with the email 'nobody@example.com'."
    assert out.getvalue() == ""


# -- twofa_unlock ---------------------------------------------------------------------------


def test_twofa_unlock_ends_a_lock_and_audits(user):
    lock(user, failures=6)

    out = run("twofa_unlock", user.email)

    assert out.strip() == "alice@example.com: was locked, now unlocked."
    user.refresh_from_db()
    assert (user.locked_until, user.code_failures, user.code_lockouts) == (None, 0, 0)
    unlocked = AuthEvent.objects.get()
    assert unlocked.kind == Kind.UNLOCKED
    assert unlocked.user == user
    assert "twofa_unlock" in unlocked.detail


def test_twofa_unlock_ignores_case_and_spaces(user):
    lock(user)

    run("twofa_unlock", "  ALICE@Example.com ")

    user.refresh_from_db()
    assert not user.is_code_locked()


def test_twofa_unlock_of_an_unlocked_user_resets_the_count(user):
    User.objects.filter(pk=user.pk).update(code_failures=7)

    out = run("twofa_unlock", user.email)

    assert out.strip() == "alice@example.com: was not locked; count reset."
    user.refresh_from_db()
    assert user.code_failures == 0
    assert AuthEvent.objects.filter(kind=Kind.UNLOCKED, user=user).count() == 1


def test_twofa_unlock_lets_the_user_get_a_code_again(user, sms_outbox):
    lock(user)
    assert sign_in_password(Client(), user.email).status_code in (200, 429)
    assert sms_outbox == []

    run("twofa_unlock", user.email)

    assert sign_in_password(Client(), user.email)["Location"] == "/accounts/login/verify/"
    assert [m.to for m in sms_outbox] == [user.phone_number]


def test_twofa_unlock_unknown_email_is_an_error(user):
    lock(user)

    with pytest.raises(CommandError) as excinfo:
        run("twofa_unlock", "nobody@example.com")

    assert str(excinfo.value) == "No user with the email 'nobody@example.com'."
    user.refresh_from_db()
    assert user.is_code_locked()
    assert not AuthEvent.objects.exists()


def test_twofa_unlock_needs_an_email():
    with pytest.raises(CommandError, match="email"):
        run("twofa_unlock")


# -- sms_budget -----------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(SMS_BUDGET_HOURLY=10, SMS_BUDGET_DAILY=50, SMS_PER_PHONE_DAILY=7)
def test_sms_budget_prints_usage_within_budget():
    sms_rows(3, age=timedelta(minutes=30))
    sms_rows(4, age=timedelta(hours=5))
    sms_rows(9, age=timedelta(hours=25))

    lines = run("sms_budget").splitlines()

    assert lines == [
        "Last hour: 3 of 10",
        "Last 24 h: 7 of 50",
        "Per phone: at most 7 in 24 h",
        "Within budget.",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("hourly", "daily", "recent", "older"),
    [
        pytest.param(3, 100, 3, 0, id="hourly"),
        pytest.param(100, 5, 1, 4, id="daily"),
    ],
)
def test_sms_budget_says_when_a_budget_is_reached(hourly, daily, recent, older):
    sms_rows(recent, age=timedelta(minutes=1))
    sms_rows(older, age=timedelta(hours=3))

    with override_settings(SMS_BUDGET_HOURLY=hourly, SMS_BUDGET_DAILY=daily):
        out = run("sms_budget")

    assert f"Last hour: {recent} of {hourly}" in out
    assert f"Last 24 h: {recent + older} of {daily}" in out
    assert "Budget reached: no login codes are being sent." in out
    assert "Within budget." not in out


@pytest.mark.django_db
@override_settings(SMS_BUDGET_HOURLY=2, SMS_BUDGET_DAILY=100)
def test_sms_budget_recovers_when_sends_age_out():
    sms_rows(2, age=timedelta(minutes=59))
    assert "Budget reached" in run("sms_budget")

    SmsSend.objects.update(created_at=timezone.now() - timedelta(minutes=61))

    out = run("sms_budget")
    assert "Last hour: 0 of 2" in out
    assert "Within budget." in out


@pytest.mark.django_db
def test_sms_budget_with_nothing_sent_uses_the_defaults():
    assert run("sms_budget").splitlines() == [
        "Last hour: 0 of 100",
        "Last 24 h: 0 of 500",
        "Per phone: at most 10 in 24 h",
        "Within budget.",
    ]


# -- purge_auth_events ----------------------------------------------------------------------


def make_events(ages: dict[str, timedelta]) -> None:
    now = timezone.now()
    for detail, age in ages.items():
        AuthEvent.objects.create(kind=Kind.CODE_OK, detail=detail, created_at=now - age)


@pytest.mark.django_db
def test_purge_auth_events_deletes_only_older_events():
    make_events(
        {
            "90 days": timedelta(days=90),
            "31 days": timedelta(days=31),
            "30 days and a minute": timedelta(days=30, minutes=1),
            "29 days": timedelta(days=29, hours=23),
            "today": timedelta(0),
        }
    )

    out = run("purge_auth_events", "--older-than", "30")

    assert out.strip() == "Deleted 3 events."
    assert set(AuthEvent.objects.values_list("detail", flat=True)) == {"29 days", "today"}


@pytest.mark.django_db
def test_purge_auth_events_singular_and_nothing():
    make_events({"old": timedelta(days=3), "new": timedelta(hours=1)})

    assert run("purge_auth_events", older_than=2).strip() == "Deleted 1 event."
    assert run("purge_auth_events", older_than=2).strip() == "Deleted 0 events."
    assert list(AuthEvent.objects.values_list("detail", flat=True)) == ["new"]


@pytest.mark.django_db
def test_purge_auth_events_keeps_other_tables(user):
    make_events({"old": timedelta(days=400)})
    sms_rows(1, age=timedelta(days=400))

    run("purge_auth_events", "--older-than", "1")

    assert not AuthEvent.objects.exists()
    assert SmsSend.objects.count() == 1
    assert User.objects.filter(pk=user.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["0", "-1", "-365"])
def test_purge_auth_events_rejects_days_below_one(days):
    make_events({"old": timedelta(days=30)})

    with pytest.raises(CommandError, match="--older-than must be at least 1 day"):
        run("purge_auth_events", f"--older-than={days}")

    assert AuthEvent.objects.count() == 1


@pytest.mark.django_db
def test_purge_auth_events_rejects_zero_as_keyword():
    make_events({"now": timedelta(0)})

    with pytest.raises(CommandError):
        run("purge_auth_events", older_than=0)

    assert AuthEvent.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args", [(), ("--older-than",), ("--older-than", "ten"), ("--older-than", "1.5")]
)
def test_purge_auth_events_needs_a_whole_number_of_days(args):
    make_events({"old": timedelta(days=30)})

    with pytest.raises(CommandError, match="older-than"):
        run("purge_auth_events", *args)

    assert AuthEvent.objects.count() == 1


# -- send_test_sms: destinations and budgets --------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "reason"),
    [
        pytest.param("+12025550123", COUNTRY_ERROR, id="us"),
        pytest.param("+44 7911 123456", COUNTRY_ERROR, id="uk-mobile"),
        pytest.param("+49 30 12345678", NOT_MOBILE, id="berlin-landline"),
        pytest.param("030 12345678", NOT_MOBILE, id="landline-national"),
        pytest.param("+49 900 5123456", NOT_MOBILE, id="premium-rate"),
        pytest.param("+49 180 5123456", NOT_MOBILE, id="shared-cost"),
    ],
)
def test_send_test_sms_refuses_destinations_that_may_not_get_codes(sms_outbox, number, reason):
    with pytest.raises(CommandError) as excinfo:
        run("send_test_sms", number)

    assert str(excinfo.value) == f"Invalid phone number {number!r}: {reason}"
    assert sms_outbox == []
    assert not SmsSend.objects.exists()


@pytest.mark.django_db
@override_settings(SMS_ALLOWED_COUNTRIES=["AT"])
def test_send_test_sms_follows_the_allowed_countries(sms_outbox):
    with pytest.raises(CommandError, match="numbers from AT"):
        run("send_test_sms", PHONE)

    run("send_test_sms", "+43 664 1234567")
    assert [m.to for m in sms_outbox] == ["+436641234567"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "e164"),
    [("+43 664 1234567", "+436641234567"), ("+41 79 123 45 67", "+41791234567")],
)
def test_send_test_sms_to_allowed_neighbour_countries(sms_outbox, number, e164):
    out = run("send_test_sms", number)

    assert f"Sent a test SMS to {e164}." in out
    assert [m.to for m in sms_outbox] == [e164]


@pytest.mark.django_db
def test_send_test_sms_is_counted_as_a_test_send(sms_outbox):
    run("send_test_sms", "0151 23456789")

    send = SmsSend.objects.get()
    assert send.purpose == SmsSend.Purpose.TEST
    assert send.phone_number == PHONE
    assert send.user is None
    assert send.delivered is True
    assert "Last hour: 1 of 100" in run("sms_budget")


@pytest.mark.django_db
@override_settings(SMS_BACKEND="accounts.sms.backends.nowhere.SmsBackend")
def test_send_test_sms_failure_still_counts_as_undelivered():
    with pytest.raises(CommandError, match="SMS backend misconfigured"):
        run("send_test_sms", PHONE)

    send = SmsSend.objects.get()
    assert send.delivered is False
    assert send.purpose == SmsSend.Purpose.TEST


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("hourly", "daily", "age"),
    [
        pytest.param(2, 100, timedelta(minutes=5), id="hourly"),
        pytest.param(100, 2, timedelta(hours=6), id="daily"),
    ],
)
def test_send_test_sms_stops_at_the_budget(sms_outbox, hourly, daily, age):
    sms_rows(2, phone="+4917099999999", age=age)

    with (
        override_settings(SMS_BUDGET_HOURLY=hourly, SMS_BUDGET_DAILY=daily),
        pytest.raises(CommandError) as excinfo,
    ):
        run("send_test_sms", PHONE)

    assert str(excinfo.value) == f"Not sent: {BUDGET_MESSAGE}"
    assert sms_outbox == []
    assert SmsSend.objects.count() == 2


@pytest.mark.django_db
@override_settings(SMS_BUDGET_HOURLY=2, SMS_BUDGET_DAILY=100)
def test_send_test_sms_uses_up_the_budget_itself(sms_outbox):
    run("send_test_sms", PHONE)
    run("send_test_sms", "+4917012345678")

    with pytest.raises(CommandError, match="^Not sent: "):
        run("send_test_sms", "+4917612345678")

    assert len(sms_outbox) == 2


@pytest.mark.django_db
@override_settings(SMS_PER_PHONE_DAILY=3)
def test_send_test_sms_stops_at_the_per_phone_limit(sms_outbox):
    sms_rows(3, age=timedelta(hours=2))

    with pytest.raises(CommandError) as excinfo:
        run("send_test_sms", "0151 23456789")

    assert str(excinfo.value).startswith("Not sent: Too many codes were sent to this phone")
    assert sms_outbox == []
    run("send_test_sms", "+4917612345678")  # another phone still works
    assert len(sms_outbox) == 1


@override_settings(SMS_BUDGET_HOURLY=1, SMS_BUDGET_DAILY=100)
def test_test_sms_counts_against_login_codes(user, sms_outbox):
    run("send_test_sms", "+4917612345678")

    browser = Client()
    response = browser.post(
        "/accounts/login/", {"username": user.email, "password": DEFAULT_PASSWORD}, follow=True
    )

    assert response.status_code in (200, 429)
    assert BUDGET_MESSAGE in response.content.decode()
    assert len(sms_outbox) == 1  # only the test SMS: the login code was not sent
    assert SmsSend.objects.filter(purpose=SmsSend.Purpose.LOGIN).count() == 0
    assert AuthEvent.objects.filter(kind=Kind.BUDGET_REACHED, user=user).exists()


# -- createuser: destinations ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "reason"),
    [
        pytest.param("+49 30 12345678", NOT_MOBILE, id="berlin-landline"),
        pytest.param("089 1234567", NOT_MOBILE, id="munich-landline-national"),
        pytest.param("+49 900 5123456", NOT_MOBILE, id="premium-rate"),
        pytest.param("+12025550123", COUNTRY_ERROR, id="us"),
        pytest.param("+33 6 12 34 56 78", COUNTRY_ERROR, id="french-mobile"),
    ],
)
def test_createuser_rejects_numbers_that_may_not_get_codes(monkeypatch, number, reason):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", PASSWORD)

    with pytest.raises(CommandError) as excinfo:
        run("createuser", "bob@example.com", "--phone", number, "--noinput")

    assert str(excinfo.value) == f"Invalid phone number {number!r}: {reason}"
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "e164"),
    [("+43 664 1234567", "+436641234567"), ("+41 79 123 45 67", "+41791234567")],
)
def test_createuser_accepts_mobiles_of_allowed_countries(monkeypatch, number, e164):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", PASSWORD)

    run("createuser", "bob@example.com", "--phone", number, "--noinput")

    assert User.objects.get().phone_number == e164


@pytest.mark.django_db
@override_settings(SMS_ALLOWED_COUNTRIES=["DE"])
def test_createuser_follows_the_allowed_countries(monkeypatch):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", PASSWORD)

    with pytest.raises(CommandError, match=r"numbers from DE\.$"):
        run("createuser", "bob@example.com", "--phone", "+43 664 1234567", "--noinput")

    assert not User.objects.exists()


@pytest.mark.django_db
def test_createsuperuser_rejects_a_landline(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PHONE_NUMBER", "+49 30 12345678")

    with pytest.raises(CommandError, match="Enter a mobile number"):
        run("createsuperuser", "--noinput")

    assert not User.objects.exists()
