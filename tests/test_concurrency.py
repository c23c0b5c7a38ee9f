"""Races: many requests at once against one pending login, from browsers sharing its cookie.

Each request runs in its own thread with its own database connection, released at the
start together. On PostgreSQL they really overlap, and only row locks keep the counts right.
On SQLite the database takes one writer at a time (the test database may even be a shared
in-memory one), so the requests are serialised there; the assertions are the same.
"""

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.test import Client

from accounts import conf
from accounts.models import AuthEvent, LoginCode, User
from tests.conftest import code_from_outbox, sign_in_password

VERIFY_URL = "/accounts/login/verify/"
RESEND_URL = "/accounts/login/resend/"
PARALLEL = 20
WRONG_CODE = "That code is not right"
TOO_MANY_WRONG = "Too many wrong codes"
NO_ACTIVE_CODE = "There is no valid code for this sign-in"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def generous_ip_limits(settings):
    settings.IP_PASSWORD_LIMIT = 10_000
    settings.IP_CODE_LIMIT = 10_000


def run_in_parallel(cookie: str, send: Callable[[Client], object], count: int = PARALLEL):
    """Run `send(client)` in `count` threads at once, each with its own client holding
    `cookie` as its session cookie. Returns the responses (or exceptions), in no order."""
    barrier = threading.Barrier(count)
    results: list = []
    results_lock = threading.Lock()
    # SQLite allows one writer at a time, and a shared in-memory test database reports a
    # locked table instead of waiting: take turns there. PostgreSQL runs them all at once.
    turns = threading.Lock() if connection.vendor == "sqlite" else None

    def worker() -> None:
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = cookie
        try:
            barrier.wait(timeout=30)
            if turns is None:
                outcome = send(client)
            else:
                with turns:
                    outcome = send(client)
        except Exception as err:  # reported by the assertions below
            outcome = err
        finally:
            connection.close()
        with results_lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert len(results) == count
    return results


def pending_cookie(user: User) -> tuple[Client, str]:
    browser = Client()
    response = sign_in_password(browser, user.email)
    assert response["Location"] == VERIFY_URL
    return browser, browser.cookies[settings.SESSION_COOKIE_NAME].value


def outcome(response) -> str:
    """Name what a verify response told the user."""
    if response.status_code == 302:
        return "signed in" if response["Location"] == "/" else f"redirect {response['Location']}"
    text = response.content.decode()
    for label, message in [
        ("wrong", WRONG_CODE),
        ("too many", TOO_MANY_WRONG),
        ("no code", NO_ACTIVE_CODE),
    ]:
        if message in text:
            return label
    return f"status {response.status_code}"


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_parallel_wrong_codes_never_count_more_than_the_allowed_attempts(user, sms_outbox):
    browser, cookie = pending_cookie(user)
    code = code_from_outbox(sms_outbox)
    max_attempts = conf.login_code_settings().max_attempts

    results = run_in_parallel(cookie, lambda c: c.post(VERIFY_URL, {"code": wrong_code(code)}))

    outcomes = Counter(outcome(r) for r in results)
    row = LoginCode.objects.get(user=user)
    assert row.attempts <= max_attempts, outcomes
    assert row.voided_at is not None
    assert row.used_at is None
    # Only requests that counted an attempt may say the code was wrong.
    assert outcomes["wrong"] + outcomes["too many"] <= max_attempts, outcomes
    assert outcomes["too many"] <= 1, outcomes
    assert set(outcomes) <= {"wrong", "too many", "no code"}, outcomes
    assert AuthEvent.objects.filter(kind="code_wrong").count() <= max_attempts
    assert User.objects.get(pk=user.pk).code_failures <= max_attempts
    # The right code is void now.
    final = browser.post(VERIFY_URL, {"code": code})
    assert NO_ACTIVE_CODE in final.content.decode()
    assert browser.session.get("_auth_user_id") is None


def test_parallel_right_codes_sign_in_at_most_once(user, sms_outbox):
    _, cookie = pending_cookie(user)
    code = code_from_outbox(sms_outbox)

    results = run_in_parallel(cookie, lambda c: c.post(VERIFY_URL, {"code": code}))

    outcomes = Counter(outcome(r) for r in results)
    assert outcomes["signed in"] <= 1, outcomes
    assert outcomes["signed in"] == 1, outcomes  # somebody does get in
    assert AuthEvent.objects.filter(kind="code_ok", user=user).count() == 1
    assert LoginCode.objects.filter(user=user, used_at__isnull=False).count() == 1
    assert set(outcomes) <= {"signed in", "no code", "redirect /accounts/login/"}, outcomes


def test_parallel_resends_send_exactly_one_sms_within_the_cooldown(user, sms_outbox):
    _, cookie = pending_cookie(user)
    cooldown = timedelta(seconds=conf.login_code_settings().resend_cooldown + 1)
    LoginCode.objects.update(created_at=F("created_at") - cooldown)
    assert len(sms_outbox) == 1

    results = run_in_parallel(cookie, lambda c: c.post(RESEND_URL))

    assert all(r.status_code == 302 for r in results), [r.status_code for r in results]
    assert len(sms_outbox) == 2
    assert LoginCode.objects.filter(user=user).count() == 2
    assert LoginCode.objects.filter(user=user, voided_at__isnull=True).count() == 1
    assert AuthEvent.objects.filter(kind="code_sent", user=user).count() == 2
