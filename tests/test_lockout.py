"""The per-account lock of the second factor after too many wrong codes in a row.

Wrong codes are counted across sign-ins; the 10th in a row locks the account for a growing
time. While locked nobody gets an SMS, and the login page says the same whether the password
was right or wrong. The lock ends by itself, by an unlock, and a sign-in resets the count.
"""

import re
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from accounts import conf
from accounts.models import LoginCode, User
from accounts.services.lockout import second_factor_unlock
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox

LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
RESEND_URL = "/accounts/login/resend/"
PENDING_KEY = "accounts_pending_login"
LOCKED = "Sign-in to this account is temporarily blocked"
RETRY = re.compile(r"Please try again in (\d+) (seconds?|minutes|hours)")
WRONG_CODE = "That code is not right"
NO_ACTIVE_CODE = "There is no valid code for this sign-in"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
WRONG_PASSWORD = "definitely not the password"


@pytest.fixture(autouse=True)
def generous_other_limits(settings):
    """Keep the IP and per-phone limits out of the way: these tests make many attempts."""
    settings.IP_PASSWORD_LIMIT = 10_000
    settings.IP_CODE_LIMIT = 10_000
    settings.SMS_PER_PHONE_DAILY = 10_000
    settings.SMS_BUDGET_HOURLY = 10_000
    settings.SMS_BUDGET_DAILY = 10_000


def page(response) -> str:
    return response.content.decode()


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def start_login(email: str, password: str = DEFAULT_PASSWORD) -> tuple[Client, object]:
    browser = Client()
    response = browser.post(LOGIN_URL, {"username": email, "password": password})
    return browser, response


def new_pending_login(user: User) -> Client:
    browser, response = start_login(user.email)
    assert response.status_code == 302
    assert response["Location"] == VERIFY_URL
    return browser


def enter_wrong_codes(user: User, outbox, count: int):
    """Type `count` wrong codes, over as many sign-ins as the per-code limit needs.

    Returns the browser and the response to the last wrong code.
    """
    per_code = conf.login_code_settings().max_attempts
    browser = response = None
    while count:
        browser = new_pending_login(user)
        code = code_from_outbox(outbox)
        for _ in range(min(per_code, count)):
            response = browser.post(VERIFY_URL, {"code": wrong_code(code)})
            count -= 1
    return browser, response


def lock(user: User, outbox):
    """Lock the account through the site, as a guesser would; returns the last response."""
    return enter_wrong_codes(user, outbox, conf.abuse_limits().lock_threshold)


def lock_ends(user: User) -> None:
    """Pretend the current lock has run out."""
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - timedelta(seconds=1))


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def retry_minutes(text: str) -> int:
    match = RETRY.search(text)
    assert match, text
    assert match.group(2) == "minutes", text
    return int(match.group(1))


def sign_in_fully(user: User, outbox) -> Client:
    browser = new_pending_login(user)
    response = browser.post(VERIFY_URL, {"code": code_from_outbox(outbox)})
    assert response.status_code == 302, page(response)
    assert signed_in_as(browser) == str(user.pk)
    return browser


# --- reaching the lock ---------------------------------------------------------------------


def test_threshold_is_ten_by_default():
    assert conf.abuse_limits().lock_threshold == 10


def test_nine_wrong_codes_do_not_lock(user, sms_outbox):
    _, last = enter_wrong_codes(user, sms_outbox, 9)

    assert LOCKED not in page(last)
    assert fresh(user).code_failures == 9
    assert not fresh(user).is_code_locked()
    assert new_pending_login(user)  # a new SMS goes out
    assert len(sms_outbox) == 4


def test_tenth_wrong_code_across_logins_locks_and_says_until_when(user, sms_outbox):
    before = timezone.now()
    browser, last = lock(user, sms_outbox)
    after = timezone.now()

    assert last.status_code in (200, 429)
    assert LOCKED in page(last)
    assert retry_minutes(page(last)) == 15
    assert signed_in_as(browser) is None
    locked_until = fresh(user).locked_until
    assert locked_until is not None
    assert before + timedelta(seconds=900) <= locked_until <= after + timedelta(seconds=900)


def test_locked_verify_page_refuses_even_the_right_code(user, sms_outbox):
    enter_wrong_codes(user, sms_outbox, 9)
    browser = new_pending_login(user)
    right = code_from_outbox(sms_outbox)
    assert LOCKED in page(browser.post(VERIFY_URL, {"code": wrong_code(right)}))

    response = browser.post(VERIFY_URL, {"code": right})

    assert LOCKED in page(response)
    assert retry_minutes(page(response)) == 15
    assert signed_in_as(browser) is None
    assert browser.get("/")["Location"].startswith(LOGIN_URL)


def test_verify_page_opened_while_locked_says_so(user, sms_outbox):
    """A browser that was waiting for its code when the account got locked elsewhere."""
    waiting = new_pending_login(user)
    User.objects.filter(pk=user.pk).update(
        locked_until=timezone.now() + timedelta(minutes=15), code_lockouts=1
    )

    response = waiting.get(VERIFY_URL)

    assert response.status_code in (200, 429)
    assert LOCKED in page(response)
    assert retry_minutes(page(response)) == 15


def test_locked_login_page_says_the_same_for_right_and_wrong_password(user, sms_outbox):
    lock(user, sms_outbox)
    sent_before = len(sms_outbox)

    right_browser, right = start_login(user.email, DEFAULT_PASSWORD)
    wrong_browser, wrong = start_login(user.email, WRONG_PASSWORD)

    assert right.status_code == wrong.status_code
    assert LOCKED in page(right)
    assert retry_minutes(page(right)) == 15
    assert CSRF_INPUT.sub("", page(right)) == CSRF_INPUT.sub("", page(wrong))
    assert "correct email address and password" not in page(wrong)
    assert len(sms_outbox) == sent_before
    for browser in (right_browser, wrong_browser):
        assert PENDING_KEY not in browser.session
        assert signed_in_as(browser) is None


def test_no_sms_is_sent_while_locked(user, sms_outbox):
    enter_wrong_codes(user, sms_outbox, 9)
    browser = new_pending_login(user)
    browser.post(VERIFY_URL, {"code": wrong_code(code_from_outbox(sms_outbox))})
    assert fresh(user).is_code_locked()
    sent = len(sms_outbox)
    codes = LoginCode.objects.count()
    LoginCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))  # no cooldown

    resend = browser.post(RESEND_URL, follow=True)
    _, login = start_login(user.email)

    assert LOCKED in page(resend)
    assert LOCKED in page(login)
    assert len(sms_outbox) == sent
    assert LoginCode.objects.count() == codes


def test_open_codes_are_voided_when_the_lock_starts(user, sms_outbox):
    enter_wrong_codes(user, sms_outbox, 9)
    browser = new_pending_login(user)
    right = code_from_outbox(sms_outbox)
    browser.post(VERIFY_URL, {"code": wrong_code(right)})

    assert not LoginCode.objects.filter(used_at__isnull=True, voided_at__isnull=True).exists()
    # Even once the lock is over, the code of the locked sign-in stays void.
    second_factor_unlock(user)
    response = browser.post(VERIFY_URL, {"code": right})
    assert NO_ACTIVE_CODE in page(response)
    assert signed_in_as(browser) is None


# --- how long it lasts ---------------------------------------------------------------------


def lock_and_measure(user: User, outbox) -> tuple[float, float]:
    """Lock the account through the site; returns bounds (seconds) of the lock's length."""
    enter_wrong_codes(user, outbox, conf.abuse_limits().lock_threshold - 1)
    browser = new_pending_login(user)
    before = timezone.now()
    response = browser.post(VERIFY_URL, {"code": wrong_code(code_from_outbox(outbox))})
    after = timezone.now()
    assert LOCKED in page(response)
    locked_until = fresh(user).locked_until
    return (locked_until - after).total_seconds(), (locked_until - before).total_seconds()


def test_each_new_lock_lasts_twice_as_long(user, sms_outbox):
    base = conf.abuse_limits().lock_base
    assert base == 900

    for expected in (base, 2 * base, 4 * base):
        shortest, longest = lock_and_measure(user, sms_outbox)
        assert shortest <= expected <= longest, (expected, shortest, longest)
        lock_ends(user)


@override_settings(LOGIN_LOCK_BASE=60, LOGIN_LOCK_MAX=200)
def test_lock_length_is_capped(user, sms_outbox):
    for expected in (60, 120, 200, 200):
        shortest, longest = lock_and_measure(user, sms_outbox)
        assert shortest <= expected <= longest, (expected, shortest, longest)
        lock_ends(user)


def test_second_lock_message_says_thirty_minutes(user, sms_outbox):
    lock(user, sms_outbox)
    lock_ends(user)

    _, last = lock(user, sms_outbox)

    assert retry_minutes(page(last)) == 30


def test_lock_ends_by_itself(user, sms_outbox):
    lock(user, sms_outbox)
    sent = len(sms_outbox)
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() + timedelta(seconds=5))
    assert LOCKED in page(start_login(user.email)[1])

    lock_ends(user)
    browser = sign_in_fully(user, sms_outbox)

    assert len(sms_outbox) == sent + 1
    assert browser.get("/").status_code == 200


def test_wrong_codes_still_count_after_a_lock_ends(user, sms_outbox):
    lock(user, sms_outbox)
    lock_ends(user)

    _, last = enter_wrong_codes(user, sms_outbox, 9)

    assert LOCKED not in page(last)
    assert fresh(user).code_failures == 9


# --- what resets it ------------------------------------------------------------------------


def test_a_successful_sign_in_resets_the_count(user, sms_outbox):
    enter_wrong_codes(user, sms_outbox, 9)
    sign_in_fully(user, sms_outbox)
    assert fresh(user).code_failures == 0

    _, last = enter_wrong_codes(user, sms_outbox, 9)

    assert LOCKED not in page(last)
    assert not fresh(user).is_code_locked()


def test_a_successful_sign_in_resets_the_doubling(user, sms_outbox):
    lock_and_measure(user, sms_outbox)
    lock_ends(user)
    sign_in_fully(user, sms_outbox)

    shortest, longest = lock_and_measure(user, sms_outbox)

    assert shortest <= conf.abuse_limits().lock_base <= longest


def test_second_factor_unlock_ends_the_lock(user, sms_outbox):
    lock(user, sms_outbox)
    assert LOCKED in page(start_login(user.email)[1])

    second_factor_unlock(user)

    assert user.locked_until is None
    assert fresh(user).code_failures == 0
    assert fresh(user).code_lockouts == 0
    browser = sign_in_fully(user, sms_outbox)
    assert browser.get("/").status_code == 200


def test_lock_of_one_account_leaves_others_alone(user, make_user, sms_outbox):
    other = make_user("bob@example.com", phone_number="+4915111111111")
    lock(user, sms_outbox)

    browser = sign_in_fully(other, sms_outbox)

    assert browser.get("/").status_code == 200
    assert fresh(user).is_code_locked()
