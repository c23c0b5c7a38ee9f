"""Abuse limits as a visitor meets them: per client IP, per account password, per phone,
the site-wide SMS budget, the allowed destinations, and no SMS for anonymous requests.

Each limit is reached, its message checked, and its reset shown by moving the stored
counters back in time (they live in the database, never in process memory).
"""

import logging
import re
from datetime import timedelta

import phonenumbers
import pytest
from django.db.models import CharField, F, Value
from django.test import Client, override_settings
from django.utils import timezone

from accounts import conf
from accounts.models import AuthEvent, LoginCode, SmsSend, Throttle, User
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox

LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
RESEND_URL = "/accounts/login/resend/"
PENDING_KEY = "accounts_pending_login"

GENERIC_ERROR = "Please enter a correct email address and password."
WRONG_CODE = "That code is not right. Please check the SMS and try again."
NETWORK_LIMIT = "Too many attempts from your network"
ACCOUNT_LIMIT = "Too many failed sign-in attempts for this account"
PHONE_LIMIT = "Too many codes were sent to this phone"
BUDGET_LIMIT = "We cannot send codes right now"
DESTINATION = "Codes cannot be sent to this phone number"
ERROR_TEXT = re.compile(r'<div class="alert error" role="alert">\s*<p>(.*?)</p>', re.DOTALL)
WAIT = re.compile(r"Please wait (\d+) (second|seconds|minutes|hours)")

IP_A = "203.0.113.10"
IP_B = "203.0.113.20"
PROXY = "10.0.0.1"
WRONG_PASSWORD = "not the password at all"
# Generous IP limits for tests that make many requests from one address on purpose.
MANY = 10_000


def page(response) -> str:
    return response.content.decode()


def form_error(response) -> str:
    """Return the text of the page's form-level error ("" when there is none)."""
    match = ERROR_TEXT.search(page(response))
    return match.group(1).strip() if match else ""


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def pending(client: Client) -> bool:
    return PENDING_KEY in client.session


def post_password(client: Client, email: str, password: str = DEFAULT_PASSWORD, **extra):
    return client.post(LOGIN_URL, {"username": email, "password": password}, **extra)


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def end_cooldown() -> None:
    LoginCode.objects.update(created_at=F("created_at") - timedelta(seconds=61))


def age_sms(delta: timedelta) -> None:
    """Pretend every SMS so far was sent `delta` earlier."""
    SmsSend.objects.update(created_at=F("created_at") - delta)


# --- per client IP: the password step ------------------------------------------------------


@override_settings(IP_PASSWORD_LIMIT=3)
def test_password_step_ip_limit_refuses_even_the_right_password(user, sms_outbox):
    browser = Client(REMOTE_ADDR=IP_A)
    for _ in range(3):
        response = post_password(browser, user.email, WRONG_PASSWORD)
        assert response.status_code == 200
        assert form_error(response) == GENERIC_ERROR

    response = post_password(browser, user.email)

    assert response.status_code == 429
    assert NETWORK_LIMIT in page(response)
    assert WAIT.search(form_error(response)), form_error(response)
    assert sms_outbox == []
    assert not pending(browser)
    assert signed_in_as(browser) is None
    assert not LoginCode.objects.exists()


@override_settings(IP_PASSWORD_LIMIT=2)
def test_password_step_ip_limit_counts_right_passwords_too(user, sms_outbox):
    browser = Client(REMOTE_ADDR=IP_A)
    assert post_password(browser, user.email)["Location"] == VERIFY_URL
    assert post_password(browser, user.email)["Location"] == VERIFY_URL

    response = post_password(browser, user.email)

    assert response.status_code == 429
    assert NETWORK_LIMIT in page(response)
    assert len(sms_outbox) == 2


@override_settings(IP_PASSWORD_LIMIT=2)
def test_password_step_ip_limit_leaves_another_ip_alone(user, sms_outbox):
    attacker = Client(REMOTE_ADDR=IP_A)
    for _ in range(3):
        post_password(attacker, user.email, WRONG_PASSWORD)
    assert post_password(attacker, user.email).status_code == 429

    owner = Client(REMOTE_ADDR=IP_B)
    response = post_password(owner, user.email)

    assert response.status_code == 302
    assert response["Location"] == VERIFY_URL
    assert [m.to for m in sms_outbox] == [user.phone_number]


@override_settings(IP_PASSWORD_LIMIT=2, IP_LIMIT_WINDOW=300)
def test_password_step_ip_limit_resets_after_the_window(user, sms_outbox):
    browser = Client(REMOTE_ADDR=IP_A)
    for _ in range(2):
        post_password(browser, user.email, WRONG_PASSWORD)
    assert post_password(browser, user.email).status_code == 429

    Throttle.objects.filter(scope="ip-password").update(
        window_start=F("window_start") - timedelta(seconds=299)
    )
    assert post_password(browser, user.email).status_code == 429

    Throttle.objects.filter(scope="ip-password").update(
        window_start=F("window_start") - timedelta(seconds=2)
    )
    response = post_password(browser, user.email)

    assert response.status_code == 302
    assert response["Location"] == VERIFY_URL
    assert len(sms_outbox) == 1


@override_settings(IP_PASSWORD_LIMIT=2)
def test_spoofed_forwarded_for_does_not_escape_the_ip_limit(user, sms_outbox):
    browser = Client(REMOTE_ADDR=IP_A)
    for n in range(2):
        post_password(browser, user.email, WRONG_PASSWORD, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    response = post_password(browser, user.email, HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert response.status_code == 429
    assert NETWORK_LIMIT in page(response)
    assert sms_outbox == []


@override_settings(IP_PASSWORD_LIMIT=2, TRUSTED_PROXIES=[PROXY])
def test_forwarded_for_from_a_trusted_proxy_names_the_client(user, sms_outbox):
    via_proxy = Client(REMOTE_ADDR=PROXY)
    for _ in range(2):
        post_password(via_proxy, user.email, WRONG_PASSWORD, HTTP_X_FORWARDED_FOR=IP_A)

    # The client behind the proxy is limited, even when it puts a forged entry in front...
    limited = post_password(via_proxy, user.email, HTTP_X_FORWARDED_FOR=f"198.51.100.99, {IP_A}")
    assert limited.status_code == 429
    assert NETWORK_LIMIT in page(limited)
    assert sms_outbox == []

    # ...while another client behind the same proxy is not.
    other = post_password(Client(REMOTE_ADDR=PROXY), user.email, HTTP_X_FORWARDED_FOR=IP_B)
    assert other.status_code == 302
    assert other["Location"] == VERIFY_URL
    assert len(sms_outbox) == 1


# --- per client IP: the code step ----------------------------------------------------------


@override_settings(IP_CODE_LIMIT=2)
def test_code_step_ip_limit_refuses_even_the_right_code(user, sms_outbox):
    browser = Client(REMOTE_ADDR=IP_A)
    assert post_password(browser, user.email)["Location"] == VERIFY_URL
    code = code_from_outbox(sms_outbox)
    for _ in range(2):
        response = browser.post(VERIFY_URL, {"code": wrong_code(code)})
        assert WRONG_CODE in page(response)

    response = browser.post(VERIFY_URL, {"code": code})

    assert response.status_code == 429
    assert NETWORK_LIMIT in page(response)
    assert signed_in_as(browser) is None
    # The refused request was not checked, so it did not use up an attempt on the code.
    assert LoginCode.objects.get(user=user).attempts == 2
    assert len(sms_outbox) == 1


@override_settings(IP_CODE_LIMIT=2)
def test_code_step_ip_limit_leaves_another_ip_alone(make_user, sms_outbox):
    attacker_victim = make_user("bob@example.com", phone_number="+4915111111111")
    attacker = Client(REMOTE_ADDR=IP_A)
    post_password(attacker, attacker_victim.email)
    for _ in range(3):
        attacker.post(VERIFY_URL, {"code": "000000"})
    assert attacker.post(VERIFY_URL, {"code": "000000"}).status_code == 429

    owner_user = make_user("carol@example.com", phone_number="+4915122222222")
    owner = Client(REMOTE_ADDR=IP_B)
    post_password(owner, owner_user.email)
    response = owner.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response.status_code == 302
    assert signed_in_as(owner) == str(owner_user.pk)


@override_settings(IP_CODE_LIMIT=1, IP_LIMIT_WINDOW=300)
def test_code_step_ip_limit_resets_after_the_window(user, sms_outbox):
    browser = Client(REMOTE_ADDR=IP_A)
    post_password(browser, user.email)
    code = code_from_outbox(sms_outbox)
    browser.post(VERIFY_URL, {"code": wrong_code(code)})
    assert browser.post(VERIFY_URL, {"code": code}).status_code == 429

    Throttle.objects.filter(scope="ip-code").update(
        window_start=F("window_start") - timedelta(seconds=300)
    )
    response = browser.post(VERIFY_URL, {"code": code})

    assert response.status_code == 302
    assert signed_in_as(browser) == str(user.pk)


@override_settings(IP_CODE_LIMIT=1)
def test_code_step_spoofed_forwarded_for_does_not_escape_the_limit(user, sms_outbox):
    browser = Client(REMOTE_ADDR=IP_A)
    post_password(browser, user.email)
    code = code_from_outbox(sms_outbox)
    browser.post(VERIFY_URL, {"code": wrong_code(code)}, HTTP_X_FORWARDED_FOR="198.51.100.1")

    response = browser.post(VERIFY_URL, {"code": code}, HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert response.status_code == 429
    assert signed_in_as(browser) is None


@override_settings(IP_CODE_LIMIT=1, TRUSTED_PROXIES=["10.0.0.0/8"])
def test_code_step_honours_forwarded_for_from_trusted_proxies(user, sms_outbox):
    browser = Client(REMOTE_ADDR=PROXY)
    post_password(browser, user.email, HTTP_X_FORWARDED_FOR=IP_A)
    code = code_from_outbox(sms_outbox)
    browser.post(VERIFY_URL, {"code": wrong_code(code)}, HTTP_X_FORWARDED_FOR=IP_A)
    assert browser.post(VERIFY_URL, {"code": code}, HTTP_X_FORWARDED_FOR=IP_A).status_code == 429

    # The same browser after moving to another network (through the same proxy) goes on.
    response = browser.post(VERIFY_URL, {"code": code}, HTTP_X_FORWARDED_FOR=IP_B)

    assert response.status_code == 302
    assert signed_in_as(browser) == str(user.pk)


# --- per account: the password delay -------------------------------------------------------


def release_password_delay() -> None:
    """Pretend the current password delay of every account has run out."""
    Throttle.objects.filter(scope="account-password").update(
        blocked_until=timezone.now() - timedelta(seconds=1)
    )


def fail_passwords(email: str, times: int) -> list:
    """Post `times` wrong passwords for `email`, each from a new browser; returns responses."""
    return [post_password(Client(), email, WRONG_PASSWORD) for _ in range(times)]


@override_settings(IP_PASSWORD_LIMIT=MANY)
def test_password_delay_after_the_threshold_refuses_the_right_password(user, sms_outbox):
    threshold = conf.abuse_limits().password_threshold
    failures = fail_passwords(user.email, threshold)
    assert [form_error(r) for r in failures] == [GENERIC_ERROR] * threshold

    browser = Client()
    response = post_password(browser, user.email)

    assert response.status_code in (200, 429)
    assert ACCOUNT_LIMIT in form_error(response)
    wait = WAIT.search(form_error(response))
    assert wait, form_error(response)
    assert sms_outbox == []
    assert not pending(browser)
    assert not LoginCode.objects.exists()


@override_settings(IP_PASSWORD_LIMIT=MANY)
def test_one_failure_below_the_threshold_does_not_delay(user, sms_outbox):
    fail_passwords(user.email, conf.abuse_limits().password_threshold - 1)

    response = post_password(Client(), user.email)

    assert response["Location"] == VERIFY_URL
    assert len(sms_outbox) == 1


@override_settings(IP_PASSWORD_LIMIT=MANY)
def test_password_delay_for_an_unknown_email_looks_the_same(user, sms_outbox):
    threshold = conf.abuse_limits().password_threshold
    unknown = "nobody@example.com"
    known_failures = fail_passwords(user.email, threshold)
    unknown_failures = fail_passwords(unknown, threshold)

    known = post_password(Client(), user.email)
    stranger = post_password(Client(), unknown)

    assert [form_error(r) for r in unknown_failures] == [form_error(r) for r in known_failures]
    assert stranger.status_code == known.status_code
    assert ACCOUNT_LIMIT in form_error(stranger)
    assert re.sub(r"\d+", "N", form_error(stranger)) == re.sub(r"\d+", "N", form_error(known))
    assert sms_outbox == []


@override_settings(IP_PASSWORD_LIMIT=MANY)
def test_password_delay_ignores_case_and_spaces_of_the_email(user, sms_outbox):
    threshold = conf.abuse_limits().password_threshold
    variants = ["ALICE@example.com", " alice@EXAMPLE.com ", "Alice@Example.Com"]
    for n in range(threshold):
        post_password(Client(), variants[n % len(variants)], WRONG_PASSWORD)

    response = post_password(Client(), "aLiCe@example.com")

    assert ACCOUNT_LIMIT in form_error(response)
    assert sms_outbox == []


@override_settings(IP_PASSWORD_LIMIT=MANY)
def test_after_the_delay_the_right_password_works_and_resets_the_count(user, sms_outbox):
    threshold = conf.abuse_limits().password_threshold
    fail_passwords(user.email, threshold)
    assert ACCOUNT_LIMIT in form_error(post_password(Client(), user.email))

    release_password_delay()
    browser = Client()
    response = post_password(browser, user.email)

    assert response.status_code == 302
    assert response["Location"] == VERIFY_URL
    assert len(sms_outbox) == 1
    assert browser.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})["Location"] == "/"
    # The count starts again from nothing: threshold - 1 new failures do not delay.
    fail_passwords(user.email, threshold - 1)
    assert post_password(Client(), user.email)["Location"] == VERIFY_URL


@override_settings(
    IP_PASSWORD_LIMIT=MANY,
    PASSWORD_THROTTLE_THRESHOLD=2,
    PASSWORD_THROTTLE_BASE=30,
    PASSWORD_THROTTLE_MAX=100,
)
def test_password_delay_doubles_and_is_capped(user, sms_outbox):
    delays = []
    fail_passwords(user.email, 1)
    for _ in range(5):
        fail_passwords(user.email, 1)
        row = Throttle.objects.get(scope="account-password")
        delays.append((row.blocked_until - row.window_start).total_seconds())
        assert ACCOUNT_LIMIT in form_error(post_password(Client(), user.email))
        release_password_delay()

    assert delays == [30, 60, 100, 100, 100]
    assert sms_outbox == []


@override_settings(
    IP_PASSWORD_LIMIT=MANY,
    PASSWORD_THROTTLE_THRESHOLD=2,
    PASSWORD_THROTTLE_BASE=30,
    PASSWORD_THROTTLE_MAX=120,
)
def test_password_delay_never_becomes_permanent(user, sms_outbox):
    for _ in range(30):
        before = timezone.now()
        fail_passwords(user.email, 1)
        blocked_until = Throttle.objects.get(scope="account-password").blocked_until
        assert blocked_until is None or blocked_until <= before + timedelta(seconds=121)
        release_password_delay()

    response = post_password(Client(), user.email)

    assert response["Location"] == VERIFY_URL
    assert len(sms_outbox) == 1
    assert User.objects.get(pk=user.pk).is_active


@override_settings(IP_PASSWORD_LIMIT=MANY, PASSWORD_THROTTLE_RESET=86400)
def test_a_quiet_day_forgets_the_wrong_passwords(user, sms_outbox):
    threshold = conf.abuse_limits().password_threshold
    fail_passwords(user.email, threshold)
    Throttle.objects.filter(scope="account-password").update(
        window_start=F("window_start") - timedelta(days=1),
        blocked_until=F("blocked_until") - timedelta(days=1),
    )

    fail_passwords(user.email, 1)

    row = Throttle.objects.get(scope="account-password")
    assert row.count == 1
    assert post_password(Client(), user.email)["Location"] == VERIFY_URL


# --- per phone number ----------------------------------------------------------------------


@override_settings(SMS_PER_PHONE_DAILY=2)
def test_phone_daily_limit_at_the_password_step(user, make_user, sms_outbox):
    for _ in range(2):
        assert post_password(Client(), user.email)["Location"] == VERIFY_URL
    assert len(sms_outbox) == 2

    browser = Client()
    response = post_password(browser, user.email, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == VERIFY_URL
    assert PHONE_LIMIT in page(response)
    assert len(sms_outbox) == 2
    assert SmsSend.objects.count() == 2


@override_settings(SMS_PER_PHONE_DAILY=2)
def test_phone_daily_limit_counts_the_number_not_the_account(make_user, sms_outbox):
    first = make_user("first@example.com", phone_number="+4915123456789")
    second = make_user("second@example.com", phone_number="+4915123456789")
    post_password(Client(), first.email)
    post_password(Client(), first.email)

    response = post_password(Client(), second.email, follow=True)

    assert PHONE_LIMIT in page(response)
    assert len(sms_outbox) == 2


@override_settings(SMS_PER_PHONE_DAILY=1)
def test_phone_daily_limit_on_resend(pending_client, user, sms_outbox):
    end_cooldown()

    response = pending_client.post(RESEND_URL, follow=True)

    assert response.redirect_chain == [(VERIFY_URL, 302)]
    assert PHONE_LIMIT in page(response)
    assert len(sms_outbox) == 1
    # The first code still works.
    assert (
        pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})["Location"] == "/"
    )


@override_settings(SMS_PER_PHONE_DAILY=2)
def test_phone_daily_limit_rolls_after_24_hours(user, sms_outbox):
    SmsSend.objects.bulk_create(
        SmsSend(phone_number=user.phone_number, user=user, delivered=True) for _ in range(2)
    )
    age_sms(timedelta(hours=23, minutes=59))
    assert PHONE_LIMIT in page(post_password(Client(), user.email, follow=True))

    age_sms(timedelta(minutes=2))
    response = post_password(Client(), user.email)

    assert response["Location"] == VERIFY_URL
    assert len(sms_outbox) == 1


# --- the site-wide SMS budget --------------------------------------------------------------


def budget_users(make_user, count: int) -> list[User]:
    return [
        make_user(f"budget{n}@example.com", phone_number=f"+49151000000{n:02d}")
        for n in range(count)
    ]


@override_settings(SMS_BUDGET_HOURLY=2, SMS_BUDGET_DAILY=100)
def test_hourly_budget_at_the_password_step(make_user, sms_outbox, caplog):
    first, second, third = budget_users(make_user, 3)
    post_password(Client(), first.email)
    post_password(Client(), second.email)
    assert len(sms_outbox) == 2

    with caplog.at_level(logging.ERROR):
        response = post_password(Client(), third.email, follow=True)

    assert response.status_code == 200
    assert BUDGET_LIMIT in page(response)
    assert len(sms_outbox) == 2
    assert any(r.levelno == logging.ERROR and "budget" in r.getMessage() for r in caplog.records)
    event = AuthEvent.objects.get(kind=AuthEvent.Kind.BUDGET_REACHED)
    assert event.user == third
    assert "hourly" in event.detail


@override_settings(SMS_BUDGET_HOURLY=1, SMS_BUDGET_DAILY=100)
def test_budget_refuses_a_resend_with_an_error_log(pending_client, user, sms_outbox, caplog):
    end_cooldown()

    with caplog.at_level(logging.ERROR):
        response = pending_client.post(RESEND_URL, follow=True)

    assert response.redirect_chain == [(VERIFY_URL, 302)]
    assert BUDGET_LIMIT in page(response)
    assert len(sms_outbox) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, caplog.text
    assert "budget" in errors[0].getMessage().lower()
    assert AuthEvent.objects.filter(kind="budget_reached", user=user).count() == 1


@override_settings(SMS_BUDGET_HOURLY=2, SMS_BUDGET_DAILY=100)
def test_hourly_budget_resets_when_the_hour_has_passed(make_user, sms_outbox):
    first, second, third = budget_users(make_user, 3)
    SmsSend.objects.bulk_create(
        SmsSend(phone_number=u.phone_number, user=u, delivered=True) for u in (first, second)
    )
    age_sms(timedelta(minutes=59))
    assert BUDGET_LIMIT in page(post_password(Client(), third.email, follow=True))

    age_sms(timedelta(minutes=2))
    response = post_password(Client(), third.email)

    assert response["Location"] == VERIFY_URL
    assert [m.to for m in sms_outbox] == [third.phone_number]


@override_settings(SMS_BUDGET_HOURLY=100, SMS_BUDGET_DAILY=2)
def test_daily_budget_holds_for_24_hours_then_resets(make_user, sms_outbox, caplog):
    first, second, third = budget_users(make_user, 3)
    post_password(Client(), first.email)
    post_password(Client(), second.email)
    age_sms(timedelta(hours=5))

    with caplog.at_level(logging.ERROR):
        refused = post_password(Client(), third.email, follow=True)
    assert BUDGET_LIMIT in page(refused)
    assert len(sms_outbox) == 2
    assert AuthEvent.objects.get(kind="budget_reached").detail.endswith("daily")
    assert any(r.levelno == logging.ERROR for r in caplog.records)

    age_sms(timedelta(hours=19, minutes=1))
    response = post_password(Client(), third.email)

    assert response["Location"] == VERIFY_URL
    assert len(sms_outbox) == 3


# --- destinations --------------------------------------------------------------------------


def set_phone_unchecked(user: User, number: str) -> None:
    """Store a number the way an old row or a direct database edit would, past validation."""
    User.objects.filter(pk=user.pk).update(phone_number=Value(number, output_field=CharField()))
    assert User.objects.values_list("phone_number", flat=True).get(pk=user.pk) == number


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("+33612345678", id="french-mobile"),
        pytest.param("+14155552671", id="us-number"),
        pytest.param("+4930123456", id="german-fixed-line"),
        pytest.param("+499001234567", id="german-premium-rate"),
        pytest.param("+4918012345", id="german-shared-cost"),
    ],
)
def test_destination_outside_the_rules_gets_no_sms(user, sms_outbox, number):
    set_phone_unchecked(user, number)

    response = post_password(Client(), user.email, follow=True)

    assert response.status_code == 200
    assert DESTINATION in page(response)
    assert sms_outbox == []
    assert not SmsSend.objects.exists()
    assert not LoginCode.objects.filter(used_at__isnull=True, voided_at__isnull=True).exists()


def test_the_test_numbers_really_have_the_types_they_stand_for():
    kinds = phonenumbers.PhoneNumberType
    assert phonenumbers.number_type(phonenumbers.parse("+4930123456")) == kinds.FIXED_LINE
    assert phonenumbers.number_type(phonenumbers.parse("+499001234567")) == kinds.PREMIUM_RATE
    assert phonenumbers.number_type(phonenumbers.parse("+4918012345")) == kinds.SHARED_COST
    assert phonenumbers.number_type(phonenumbers.parse("+33612345678")) == kinds.MOBILE


@override_settings(SMS_ALLOWED_COUNTRIES=["DE"])
def test_allowed_countries_setting_is_honoured(make_user, sms_outbox):
    austrian = make_user("at@example.com", phone_number="+4915111111111")
    set_phone_unchecked(austrian, "+436641234567")
    german = make_user("de@example.com", phone_number="+4915122222222")

    refused = post_password(Client(), austrian.email, follow=True)
    allowed = post_password(Client(), german.email)

    assert DESTINATION in page(refused)
    assert allowed["Location"] == VERIFY_URL
    assert [m.to for m in sms_outbox] == [german.phone_number]


@pytest.mark.parametrize("number", ["+436641234567", "+41791234567"])
def test_default_allowed_countries_include_austria_and_switzerland(make_user, sms_outbox, number):
    person = make_user("alpine@example.com", phone_number=number)

    response = post_password(Client(), person.email)

    assert response["Location"] == VERIFY_URL
    assert [m.to for m in sms_outbox] == [number]


def test_destination_is_checked_again_before_a_resend(pending_client, user, sms_outbox):
    end_cooldown()

    with override_settings(SMS_ALLOWED_COUNTRIES=["AT", "CH"]):
        response = pending_client.post(RESEND_URL, follow=True)

    assert DESTINATION in page(response)
    assert len(sms_outbox) == 1


# --- never an SMS from an anonymous request -----------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"username": "alice@example.com"},
        {"username": "alice@example.com", "password": ""},
        {"password": DEFAULT_PASSWORD},
        {"username": "", "password": DEFAULT_PASSWORD},
        {"username": "alice@example.com", "password": WRONG_PASSWORD},
    ],
    ids=["nothing", "no-password", "empty-password", "no-email", "empty-email", "wrong"],
)
def test_no_sms_without_a_right_password(client, user, sms_outbox, data):
    response = client.post(LOGIN_URL, data)

    assert response.status_code == 200
    assert sms_outbox == []
    assert not SmsSend.objects.exists()
    assert not LoginCode.objects.exists()
    assert not pending(client)


@pytest.mark.django_db
def test_resend_without_a_pending_login_sends_nothing(client, user, sms_outbox):
    response = client.post(RESEND_URL)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert sms_outbox == []
    assert not SmsSend.objects.exists()


def test_resend_in_another_browser_than_the_pending_login_sends_nothing(
    pending_client, sms_outbox
):
    end_cooldown()

    response = Client().post(RESEND_URL)

    assert response["Location"] == LOGIN_URL
    assert len(sms_outbox) == 1


@pytest.mark.django_db
def test_get_requests_never_send(client, user, sms_outbox):
    for url in (LOGIN_URL, VERIFY_URL, RESEND_URL, "/", "/admin/"):
        client.get(url)

    assert sms_outbox == []
    assert not SmsSend.objects.exists()
