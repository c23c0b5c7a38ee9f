"""Tests of the system checks in accounts/checks.py: each id under bad settings, none when good."""

import pytest
from django.core import checks as django_checks
from django.test import override_settings

from accounts.checks import (
    check_login_code_settings,
    check_phone_region,
    check_secret_key,
    check_sipgate_settings,
    check_sms_backend,
)

SIPGATE = "accounts.sms.backends.sipgate.SmsBackend"
GOOD_SETTINGS = {
    "SMS_BACKEND": SIPGATE,
    "SIPGATE_TOKEN_ID": "token-AB12CD",
    "SIPGATE_TOKEN": "0f5c3f7e-1d2a-4b3c-8d4e-5f6a7b8c9d0e",
    "SIPGATE_SMS_ID": "s0",
    "SIPGATE_API_URL": "https://api.sipgate.com/v2",
    "LOGIN_CODE_TTL": 300,
    "LOGIN_CODE_LENGTH": 6,
    "LOGIN_CODE_MAX_ATTEMPTS": 3,
    "LOGIN_CODE_RESEND_COOLDOWN": 60,
    "LOGIN_CODE_MAX_SENDS": 3,
    "PENDING_LOGIN_TTL": 600,
    "PHONE_DEFAULT_REGION": "DE",
    "SECRET_KEY_IS_EPHEMERAL": False,
}
ALL_CHECKS = (
    check_sms_backend,
    check_sipgate_settings,
    check_login_code_settings,
    check_phone_region,
    check_secret_key,
)


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def run_all(**overrides) -> list:
    with override_settings(**{**GOOD_SETTINGS, **overrides}):
        return [message for check in ALL_CHECKS for message in check(None)]


def test_good_settings_give_no_messages():
    assert run_all() == []


@pytest.mark.parametrize(
    "backend",
    [
        "accounts.sms.backends.console.SmsBackend",
        "accounts.sms.backends.locmem.SmsBackend",
        SIPGATE,
    ],
)
def test_importable_backends_pass(backend):
    assert run_all(SMS_BACKEND=backend) == []


@pytest.mark.parametrize(
    "backend",
    ["accounts.sms.backends.nope.SmsBackend", "accounts.sms.backends.locmem.Nope", "nodots"],
)
def test_e001_backend_not_importable(backend):
    with override_settings(**{**GOOD_SETTINGS, "SMS_BACKEND": backend}):
        messages = check_sms_backend(None)

    assert ids(messages) == ["accounts.E001"]
    assert messages[0].level == django_checks.ERROR


@pytest.mark.parametrize("missing", ["SIPGATE_TOKEN_ID", "SIPGATE_TOKEN"])
def test_e002_sipgate_without_credentials(missing):
    with override_settings(**{**GOOD_SETTINGS, missing: ""}):
        messages = check_sipgate_settings(None)

    assert "accounts.E002" in ids(messages)


@pytest.mark.parametrize(
    "backend",
    ["accounts.sms.backends.console.SmsBackend", "accounts.sms.backends.locmem.SmsBackend"],
)
def test_e002_not_reported_for_other_backends(backend):
    messages = run_all(SMS_BACKEND=backend, SIPGATE_TOKEN_ID="", SIPGATE_TOKEN="")

    assert messages == []


@pytest.mark.parametrize(
    "token_id",
    ["token-ABC", "token-AB12CDE", "tok-AB12CD", "AB12CD", "token-AB 2CD", "token_AB12CD"],
)
def test_e003_malformed_token_id(token_id):
    assert ids(run_all(SIPGATE_TOKEN_ID=token_id)) == ["accounts.E003"]


@pytest.mark.parametrize("token_id", ["token-AB12CD", "token-abcdef", "token-000000"])
def test_well_formed_token_ids_pass(token_id):
    assert run_all(SIPGATE_TOKEN_ID=token_id) == []


@pytest.mark.parametrize("sms_id", ["s01", "x0", "S0", "s", "", "s0 ", "s-1", "0"])
def test_e004_malformed_sms_id(sms_id):
    assert ids(run_all(SIPGATE_SMS_ID=sms_id)) == ["accounts.E004"]


@pytest.mark.parametrize("sms_id", ["s0", "s1", "s10", "s123"])
def test_well_formed_sms_ids_pass(sms_id):
    assert run_all(SIPGATE_SMS_ID=sms_id) == []


@pytest.mark.parametrize("ttl", [0, 29, 601, 3600, "300", 300.0])
def test_e005_ttl_out_of_range(ttl):
    assert ids(run_all(LOGIN_CODE_TTL=ttl)) == ["accounts.E005"]


@pytest.mark.parametrize("ttl", [30, 300, 600])
def test_ttl_in_range_passes(ttl):
    assert run_all(LOGIN_CODE_TTL=ttl) == []


@pytest.mark.parametrize("length", [4, 5, 9, 12, "6"])
def test_e006_code_length_out_of_range(length):
    assert ids(run_all(LOGIN_CODE_LENGTH=length)) == ["accounts.E006"]


@pytest.mark.parametrize("length", [6, 7, 8])
def test_code_length_in_range_passes(length):
    assert run_all(LOGIN_CODE_LENGTH=length) == []


@pytest.mark.parametrize(
    "setting",
    [
        "LOGIN_CODE_MAX_ATTEMPTS",
        "LOGIN_CODE_RESEND_COOLDOWN",
        "LOGIN_CODE_MAX_SENDS",
        "PENDING_LOGIN_TTL",
    ],
)
@pytest.mark.parametrize("value", [0, -1, 2.5, "3", None])
def test_e007_limit_not_a_positive_whole_number(setting, value):
    assert ids(run_all(**{setting: value})) == ["accounts.E007"]


def test_e007_is_reported_once_per_bad_limit():
    messages = run_all(LOGIN_CODE_MAX_ATTEMPTS=0, LOGIN_CODE_MAX_SENDS=0)

    assert ids(messages) == ["accounts.E007", "accounts.E007"]


@pytest.mark.parametrize("region", ["XX", "", "GER", "ZZ"])
def test_e008_unknown_phone_region(region):
    with override_settings(**{**GOOD_SETTINGS, "PHONE_DEFAULT_REGION": region}):
        messages = check_phone_region(None)

    assert ids(messages) == ["accounts.E008"]


@pytest.mark.parametrize("region", ["DE", "AT", "CH", "US"])
def test_known_phone_regions_pass(region):
    assert run_all(PHONE_DEFAULT_REGION=region) == []


def test_w001_ephemeral_secret_key():
    with override_settings(**{**GOOD_SETTINGS, "SECRET_KEY_IS_EPHEMERAL": True}):
        messages = check_secret_key(None)

    assert ids(messages) == ["accounts.W001"]
    assert messages[0].level == django_checks.WARNING


@pytest.mark.parametrize(
    "url",
    [
        "http://api.sipgate.com/v2",
        "http://localhost.example.com/v2",
        "http://10.0.0.1:8080/v2",
        "ftp://api.sipgate.com/v2",
        "api.sipgate.com/v2",
    ],
)
def test_w002_sipgate_url_without_https(url):
    messages = run_all(SIPGATE_API_URL=url)

    assert ids(messages) == ["accounts.W002"]
    assert messages[0].level == django_checks.WARNING


@pytest.mark.parametrize(
    "url",
    [
        "https://api.sipgate.com/v2",
        "http://localhost:8000/v2",
        "http://127.0.0.1:9999/v2",
        "http://[::1]:9999/v2",
    ],
)
def test_https_or_loopback_url_passes(url):
    assert run_all(SIPGATE_API_URL=url) == []


def test_checks_are_registered_with_django():
    bad = {
        **GOOD_SETTINGS,
        "SMS_BACKEND": "accounts.sms.backends.nope.SmsBackend",
        "SIPGATE_SMS_ID": "x",
        "LOGIN_CODE_TTL": 1,
        "LOGIN_CODE_LENGTH": 1,
        "LOGIN_CODE_MAX_SENDS": 0,
        "PHONE_DEFAULT_REGION": "XX",
        "SECRET_KEY_IS_EPHEMERAL": True,
        "SIPGATE_API_URL": "http://api.sipgate.com/v2",
    }
    with override_settings(**bad):
        reported = set(ids(django_checks.run_checks()))

    expected = {"accounts.E001", "accounts.E004", "accounts.E005", "accounts.E006"}
    expected |= {"accounts.E007", "accounts.E008", "accounts.W001", "accounts.W002"}
    assert expected <= reported


def test_sipgate_credential_checks_are_registered_with_django():
    bad = {**GOOD_SETTINGS, "SIPGATE_TOKEN_ID": "token-bad", "SIPGATE_TOKEN": ""}
    with override_settings(**bad):
        reported = set(ids(django_checks.run_checks()))

    assert {"accounts.E002", "accounts.E003"} <= reported
