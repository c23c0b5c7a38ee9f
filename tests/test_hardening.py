"""Hardening: security headers, pages without inline code, a clean `check --deploy` under
production settings, session lifetimes, signing out everywhere, and comparable answer times.
"""

import json
import os
import re
import secrets
import statistics
import string
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.middleware import SESSION_SEEN_AT
from accounts.models import User
from accounts.services.lockout import sessions_end_everywhere
from accounts.services.login import SESSION_AUTH_AT
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox, sign_in_password

BASE_DIR = Path(settings.BASE_DIR)
LOGIN_URL = "/accounts/login/"
VERIFY_URL = "/accounts/login/verify/"
PENDING_KEY = "accounts_pending_login"
SESSION_ENDED = "Your session has ended. Please sign in again."
SIGN_IN_EXPIRED = "Your sign-in has expired. Please sign in again."

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def page(response) -> str:
    return response.content.decode()


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


@pytest.fixture
def signed_in_client(pending_client, sms_outbox, user):
    response = pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    assert response.status_code == 302
    assert signed_in_as(pending_client) == str(user.pk)
    return pending_client


# --- headers -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_page_sends_a_strict_content_security_policy(client):
    response = client.get(LOGIN_URL)

    policy = response.headers.get("Content-Security-Policy", "")
    assert policy, dict(response.headers)
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert "'self'" in directives.get("script-src", directives["default-src"])
    assert "*" not in " ".join(directives.get("script-src", []))
    assert directives.get("frame-ancestors") == ["'none'"]


@pytest.mark.django_db
def test_login_page_cannot_be_framed_and_limits_the_referrer(client):
    response = client.get(LOGIN_URL)

    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers.get("Referrer-Policy") in {
        "same-origin",
        "no-referrer",
        "strict-origin",
        "strict-origin-when-cross-origin",
    }
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


def test_verify_and_home_pages_send_the_same_headers(pending_client, sms_outbox):
    verify = pending_client.get(VERIFY_URL)
    pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    home = pending_client.get("/")

    for response in (verify, home):
        assert response.status_code == 200
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "Referrer-Policy" in response.headers


# --- no inline code in the pages -----------------------------------------------------------


def assert_no_inline_code(html: str) -> None:
    assert "<html" in html
    assert not INLINE_SCRIPT.findall(html), INLINE_SCRIPT.findall(html)
    assert not STYLE_ATTRIBUTE.findall(html), STYLE_ATTRIBUTE.findall(html)
    assert not STYLE_ELEMENT.findall(html)
    assert not EVENT_HANDLER.findall(html), EVENT_HANDLER.findall(html)
    assert not JS_URL.findall(html)


@pytest.mark.django_db
def test_login_page_has_no_inline_script_or_style(client):
    assert_no_inline_code(page(client.get(LOGIN_URL)))


@pytest.mark.django_db
def test_login_page_with_errors_has_no_inline_script_or_style(client, user):
    response = sign_in_password(client, user.email, "wrong password")

    assert "alert" in page(response)
    assert_no_inline_code(page(response))


def test_verify_page_has_no_inline_script_or_style(pending_client):
    assert_no_inline_code(page(pending_client.get(VERIFY_URL)))


def test_verify_page_with_cooldown_and_error_has_no_inline_script_or_style(pending_client):
    pending_client.post("/accounts/login/resend/")

    response = pending_client.post(VERIFY_URL, {"code": "12"}, follow=True)

    assert_no_inline_code(page(response))


def test_home_page_has_no_inline_script_or_style(signed_in_client):
    response = signed_in_client.get("/")

    assert response.status_code == 200
    assert_no_inline_code(page(response))


# --- production settings -------------------------------------------------------------------


def production_env() -> dict[str, str]:
    """A clean environment with production values only: no .env, no DEBUG, no test settings."""
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "twofa_site.settings",
        "DJANGO_ENV_FILE": "",
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(50)),
        "ALLOWED_HOSTS": "login.example.com",
        "SIPGATE_TOKEN_ID": "token-AB12CD",
        "SIPGATE_TOKEN": str(uuid.uuid4()),
        # Password reset and notices mail out since the site sends email; production sets it.
        "EMAIL_URL": "smtp+tls://mailer:mail-password@smtp.example.com:587",
    }


def run_in_production(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = run_in_production("manage.py", "check", "--deploy")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output, output
    assert "WARNING" not in output.upper(), output


PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in [
    "DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SESSION_COOKIE_HTTPONLY",
    "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF", "SESSION_COOKIE_AGE",
    "SESSION_ABSOLUTE_TIMEOUT", "SESSION_IDLE_TIMEOUT", "PENDING_LOGIN_TTL",
]}))
"""


def test_https_settings_are_on_under_production_settings():
    result = run_in_production("-c", PRINT_SETTINGS)

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["SESSION_ABSOLUTE_TIMEOUT"] == 12 * 3600
    assert values["SESSION_IDLE_TIMEOUT"] == 30 * 60
    assert values["SESSION_COOKIE_AGE"] <= 12 * 3600
    assert values["PENDING_LOGIN_TTL"] == 600


# --- session lifetimes ---------------------------------------------------------------------


def set_session(client: Client, **values) -> None:
    session = client.session
    for key, value in values.items():
        session[key] = value
    session.save()


def assert_sent_to_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
    assert signed_in_as(client) is None


def test_signed_in_session_stores_its_start_and_last_request(signed_in_client):
    signed_in_client.get("/")

    session = signed_in_client.session
    now = time.time()
    assert now - 60 < session[SESSION_AUTH_AT] <= now
    assert now - 60 < session[SESSION_SEEN_AT] <= now


def test_session_within_its_limits_goes_on(signed_in_client):
    now = time.time()
    idle = settings.SESSION_IDLE_TIMEOUT
    absolute = settings.SESSION_ABSOLUTE_TIMEOUT
    set_session(
        signed_in_client,
        **{SESSION_AUTH_AT: now - absolute + 120, SESSION_SEEN_AT: now - idle + 120},
    )

    assert signed_in_client.get("/").status_code == 200


def test_session_ends_after_the_idle_timeout(signed_in_client):
    assert settings.SESSION_IDLE_TIMEOUT == 30 * 60
    now = time.time()
    set_session(
        signed_in_client,
        **{SESSION_AUTH_AT: now - 3600, SESSION_SEEN_AT: now - 30 * 60 - 5},
    )

    response = signed_in_client.get("/", follow=True)

    assert response.redirect_chain[0] == ("/accounts/login/?next=/", 302)
    assert SESSION_ENDED in page(response)
    assert_sent_to_login(signed_in_client)


def test_session_ends_after_the_absolute_timeout_even_when_active(signed_in_client):
    assert settings.SESSION_ABSOLUTE_TIMEOUT == 12 * 3600
    now = time.time()
    set_session(
        signed_in_client,
        **{SESSION_AUTH_AT: now - 12 * 3600 - 5, SESSION_SEEN_AT: now - 10},
    )

    assert_sent_to_login(signed_in_client)


def test_short_idle_timeout_setting_is_honoured(signed_in_client, settings):
    settings.SESSION_IDLE_TIMEOUT = 60
    now = time.time()
    set_session(signed_in_client, **{SESSION_SEEN_AT: now - 61})

    assert_sent_to_login(signed_in_client)


def test_requests_keep_an_idle_session_alive(signed_in_client, settings):
    settings.SESSION_IDLE_TIMEOUT = 120
    now = time.time()
    set_session(signed_in_client, **{SESSION_SEEN_AT: now - 100})

    assert signed_in_client.get("/").status_code == 200
    seen = signed_in_client.session[SESSION_SEEN_AT]
    assert seen > now - 5
    assert signed_in_client.get("/").status_code == 200


def test_ended_session_cannot_be_revived_with_the_old_cookie(signed_in_client, user):
    cookie = signed_in_client.cookies[settings.SESSION_COOKIE_NAME].value
    now = time.time()
    set_session(signed_in_client, **{SESSION_SEEN_AT: now - 31 * 60})
    assert_sent_to_login(signed_in_client)

    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert replay.get("/").status_code == 302


def test_pending_login_older_than_ten_minutes_is_gone(pending_client, sms_outbox):
    assert settings.PENDING_LOGIN_TTL == 600
    session = pending_client.session
    pending = session[PENDING_KEY]
    pending["started_at"] = time.time() - 601
    session[PENDING_KEY] = pending
    session.save()

    response = pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)}, follow=True)

    assert response.redirect_chain == [(LOGIN_URL, 302)]
    assert SIGN_IN_EXPIRED in page(response)
    assert signed_in_as(pending_client) is None
    assert PENDING_KEY not in pending_client.session
    assert pending_client.get(VERIFY_URL)["Location"] == LOGIN_URL


def test_pending_login_just_under_ten_minutes_still_works(pending_client, sms_outbox, user):
    session = pending_client.session
    pending = session[PENDING_KEY]
    pending["started_at"] = time.time() - 590
    session[PENDING_KEY] = pending
    session.save()

    response = pending_client.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})

    assert response.status_code == 302
    assert signed_in_as(pending_client) == str(user.pk)


# --- signing out everywhere ----------------------------------------------------------------


def test_sign_out_of_all_sessions_ends_an_existing_session(signed_in_client, user, make_user):
    other_user = make_user("bob@example.com", phone_number="+4915111111111")
    other = Client()
    other.force_login(other_user)
    assert signed_in_client.get("/").status_code == 200

    sessions_end_everywhere(User.objects.get(pk=user.pk))

    assert_sent_to_login(signed_in_client)
    assert other.get("/").status_code == 200


def test_sign_out_everywhere_ends_every_session_of_the_user(user, sms_outbox):
    browsers = []
    for _ in range(2):
        browser = Client()
        sign_in_password(browser, user.email)
        browser.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
        assert browser.get("/").status_code == 200
        browsers.append(browser)

    sessions_end_everywhere(user)

    for browser in browsers:
        assert_sent_to_login(browser)
    # A new sign-in still works.
    fresh = Client()
    sign_in_password(fresh, user.email)
    fresh.post(VERIFY_URL, {"code": code_from_outbox(sms_outbox)})
    assert fresh.get("/").status_code == 200


# --- timing --------------------------------------------------------------------------------


ARGON2 = ["django.contrib.auth.hashers.Argon2PasswordHasher"]


def answer_time(email: str, password: str) -> float:
    """Return the seconds one password step takes for a fresh browser."""
    client = Client()
    started = time.perf_counter()
    response = client.post(LOGIN_URL, {"username": email, "password": password})
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 429), response.status_code
    return elapsed


def median_answer_times(cases: dict[str, tuple[str, str]], rounds: int) -> dict[str, float]:
    """Time every case once per round, in turn, so that a busy machine slows all alike."""
    durations: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (email, password) in cases.items():
            durations[name].append(answer_time(email, password))
    return {name: statistics.median(values) for name, values in durations.items()}


@pytest.mark.django_db
def test_unknown_email_wrong_password_and_locked_account_answer_in_comparable_time(
    settings, django_user_model
):
    settings.PASSWORD_HASHERS = ARGON2
    settings.IP_PASSWORD_LIMIT = 10_000
    settings.PASSWORD_THROTTLE_THRESHOLD = 10_000
    known = django_user_model.objects.create_user(
        "known@example.com",
        DEFAULT_PASSWORD,
        phone_number="+4915123456789",
        phone_verified_at=timezone.now(),
    )
    locked = django_user_model.objects.create_user(
        "locked@example.com",
        DEFAULT_PASSWORD,
        phone_number="+4915111111111",
        phone_verified_at=timezone.now(),
    )
    User.objects.filter(pk=locked.pk).update(locked_until=timezone.now() + timedelta(hours=1))
    assert known.password.startswith("argon2")
    cases = {
        "unknown email": ("nobody@example.com", DEFAULT_PASSWORD),
        "wrong password": (known.email, "wrong password 1"),
        "locked, wrong password": (locked.email, "wrong password 2"),
        "locked, right password": (locked.email, DEFAULT_PASSWORD),
    }
    median_answer_times(cases, rounds=1)  # warm up caches and connections

    medians = median_answer_times(cases, rounds=7)

    fastest, slowest = min(medians.values()), max(medians.values())
    assert slowest <= 3 * fastest, medians
