"""Tests of accounts/services/codes.py: drawing, storing, issuing and verifying login codes."""

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from accounts.exceptions import (
    CodeAttemptsExceeded,
    CodeExpired,
    CodeInvalid,
    NoActiveCode,
    ResendTooSoon,
    SendLimitReached,
)
from accounts.models import LoginCode
from accounts.services.codes import (
    SendStatus,
    code_generate,
    code_hash,
    login_code_issue,
    login_code_verify,
    login_code_void,
    login_codes_purge,
    send_status,
)

NOW = datetime(2030, 1, 2, 12, 0, 0, tzinfo=UTC)
CHALLENGE = "challenge-alpha"
OTHER_CHALLENGE = "challenge-bravo"


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def wrong_code(code: str) -> str:
    """Return a code of the same length that differs from `code` in every digit."""
    return "".join(str((int(digit) + 1) % 10) for digit in code)


@pytest.fixture
def fixed_codes(monkeypatch):
    """Make secrets.randbelow return the given values in turn; returns the list of bounds."""
    bounds: list[int] = []
    values: list[int] = []

    def fake_randbelow(bound: int) -> int:
        bounds.append(bound)
        return values.pop(0)

    monkeypatch.setattr(secrets, "randbelow", fake_randbelow)

    def set_values(*new_values: int) -> list[int]:
        values.extend(new_values)
        return bounds

    return set_values


# --- drawing -------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [6, 7, 8])
def test_issued_code_has_configured_length_of_ascii_digits(user, length):
    with override_settings(LOGIN_CODE_LENGTH=length):
        _row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    assert re.fullmatch(rf"[0-9]{{{length}}}", code, flags=re.ASCII)


@pytest.mark.parametrize("length", [6, 8])
def test_code_is_drawn_from_secrets_over_the_whole_range_and_zero_padded(fixed_codes, length):
    bounds = fixed_codes(42)

    code = code_generate(length)

    assert bounds == [10**length]
    assert code == "42".rjust(length, "0")


def test_codes_differ_between_draws():
    codes = {code_generate(6) for _ in range(50)}

    assert len(codes) > 40


# --- storage -------------------------------------------------------------------------------


def test_row_stores_a_keyed_hash_and_never_the_code(user, fixed_codes):
    fixed_codes(271828)

    row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    assert code == "271828"
    stored = LoginCode.objects.filter(pk=row.pk).values().get()
    for column, value in stored.items():
        assert code not in str(value), f"code found in column {column}"
    assert re.fullmatch(r"[0-9a-f]{64}", stored["code_hash"])
    unkeyed = {
        hashlib.sha256(code.encode()).hexdigest(),
        hashlib.sha256(f"{user.pk}:{CHALLENGE}:{code}".encode()).hexdigest(),
    }
    assert stored["code_hash"] not in unkeyed


def test_hash_differs_per_user_and_per_challenge(make_user, fixed_codes):
    alice, bob = make_user(), make_user()
    fixed_codes(123456, 123456, 123456)

    row_alice, code_a = login_code_issue(user=alice, challenge=CHALLENGE, now=NOW)
    row_bob, code_b = login_code_issue(user=bob, challenge=CHALLENGE, now=NOW)
    row_alice_other, code_c = login_code_issue(user=alice, challenge=OTHER_CHALLENGE, now=NOW)

    assert code_a == code_b == code_c
    assert len({row_alice.code_hash, row_bob.code_hash, row_alice_other.code_hash}) == 3


def test_hash_is_stable_for_the_same_inputs_and_changes_with_secret_key():
    first = code_hash(user_id=1, challenge=CHALLENGE, code="123456")
    again = code_hash(user_id=1, challenge=CHALLENGE, code="123456")
    with override_settings(SECRET_KEY="another-secret-key-for-this-test-0123456789abcdef"):
        rekeyed = code_hash(user_id=1, challenge=CHALLENGE, code="123456")

    assert first == again
    assert rekeyed != first


def test_code_issued_under_old_secret_key_fails_after_rotation(user):
    _row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    with (
        override_settings(SECRET_KEY="another-secret-key-for-this-test-0123456789abcdef"),
        pytest.raises(CodeInvalid),
    ):
        login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(1))


# --- verifying -----------------------------------------------------------------------------


def test_right_code_is_accepted_and_marked_used(user):
    row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    used = login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(10))

    assert used.pk == row.pk
    row.refresh_from_db()
    assert row.used_at == later(10)
    assert row.state(later(10)) == "used"


def test_code_works_only_once(user):
    _row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)
    login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(10))

    with pytest.raises(NoActiveCode):
        login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(11))


def test_verify_without_any_code_raises_no_active_code(user):
    with pytest.raises(NoActiveCode):
        login_code_verify(user=user, challenge=CHALLENGE, code="123456", now=NOW)


def test_code_expires_after_ttl(user):
    with override_settings(LOGIN_CODE_TTL=120):
        row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    assert row.expires_at == later(120)
    with pytest.raises(CodeExpired):
        login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(120))
    row.refresh_from_db()
    assert row.used_at is None


def test_code_is_accepted_just_before_expiry(user):
    row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    login_code_verify(
        user=user, challenge=CHALLENGE, code=code, now=row.expires_at - timedelta(seconds=1)
    )

    row.refresh_from_db()
    assert row.used_at is not None


def test_code_with_expiry_in_the_past_fails_at_the_real_clock(user):
    row, code = login_code_issue(user=user, challenge=CHALLENGE)
    LoginCode.objects.filter(pk=row.pk).update(expires_at=row.created_at - timedelta(seconds=1))

    with pytest.raises(CodeExpired):
        login_code_verify(user=user, challenge=CHALLENGE, code=code)


def test_wrong_guess_is_counted_in_the_database(user):
    row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    with pytest.raises(CodeInvalid):
        login_code_verify(user=user, challenge=CHALLENGE, code=wrong_code(code), now=later(1))

    row.refresh_from_db()
    assert row.attempts == 1
    assert row.voided_at is None
    login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(2))


def test_third_wrong_guess_voids_the_code_and_the_right_one_then_fails(user):
    row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)
    guess = wrong_code(code)

    with pytest.raises(CodeInvalid):
        login_code_verify(user=user, challenge=CHALLENGE, code=guess, now=later(1))
    with pytest.raises(CodeInvalid):
        login_code_verify(user=user, challenge=CHALLENGE, code=guess, now=later(2))
    with pytest.raises(CodeAttemptsExceeded):
        login_code_verify(user=user, challenge=CHALLENGE, code=guess, now=later(3))

    row.refresh_from_db()
    assert row.attempts == 3
    assert row.voided_at == later(3)
    with pytest.raises(NoActiveCode):
        login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(4))


@override_settings(LOGIN_CODE_MAX_ATTEMPTS=5)
def test_attempt_cap_follows_the_setting(user):
    _row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    for second in range(1, 5):
        with pytest.raises(CodeInvalid):
            login_code_verify(
                user=user, challenge=CHALLENGE, code=wrong_code(code), now=later(second)
            )

    login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(5))


def test_right_code_with_another_challenge_fails_and_costs_nothing(user):
    row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    with pytest.raises(NoActiveCode):
        login_code_verify(user=user, challenge=OTHER_CHALLENGE, code=code, now=later(1))

    row.refresh_from_db()
    assert row.attempts == 0
    login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(2))


def test_code_of_one_user_does_not_work_for_another(make_user, fixed_codes):
    alice, bob = make_user(), make_user()
    fixed_codes(111111, 222222)
    _row, alice_code = login_code_issue(user=alice, challenge=CHALLENGE, now=NOW)
    login_code_issue(user=bob, challenge=CHALLENGE, now=NOW)

    with pytest.raises(CodeInvalid):
        login_code_verify(user=bob, challenge=CHALLENGE, code=alice_code, now=later(1))


# --- issuing -------------------------------------------------------------------------------


def test_new_code_voids_the_users_earlier_open_codes(make_user):
    alice, bob = make_user(), make_user()
    old_row, old_code = login_code_issue(user=alice, challenge=CHALLENGE, now=NOW)
    bob_row, _bob_code = login_code_issue(user=bob, challenge=CHALLENGE, now=NOW)

    _new_row, new_code = login_code_issue(user=alice, challenge=OTHER_CHALLENGE, now=later(5))

    old_row.refresh_from_db()
    bob_row.refresh_from_db()
    assert old_row.voided_at == later(5)
    assert bob_row.voided_at is None
    with pytest.raises(NoActiveCode):
        login_code_verify(user=alice, challenge=CHALLENGE, code=old_code, now=later(6))
    login_code_verify(user=alice, challenge=OTHER_CHALLENGE, code=new_code, now=later(6))


def test_resent_code_replaces_the_previous_one_of_the_same_login(user, fixed_codes):
    fixed_codes(111111, 222222)
    _first, old_code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)
    _second, new_code = login_code_issue(user=user, challenge=CHALLENGE, now=later(60))

    with pytest.raises(CodeInvalid):
        login_code_verify(user=user, challenge=CHALLENGE, code=old_code, now=later(61))
    login_code_verify(user=user, challenge=CHALLENGE, code=new_code, now=later(62))


@pytest.mark.parametrize(("elapsed", "retry_after"), [(0, 60), (10, 50), (59.5, 1), (59.999, 1)])
def test_resend_during_cooldown_raises_with_retry_after(user, elapsed, retry_after):
    login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    with pytest.raises(ResendTooSoon) as info:
        login_code_issue(user=user, challenge=CHALLENGE, now=later(elapsed))

    assert info.value.retry_after == retry_after
    assert str(retry_after) in info.value.message


def test_refused_resend_keeps_the_current_code_usable(user):
    _row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    with pytest.raises(ResendTooSoon):
        login_code_issue(user=user, challenge=CHALLENGE, now=later(5))

    assert LoginCode.objects.filter(user=user).count() == 1
    login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(6))


@override_settings(LOGIN_CODE_RESEND_COOLDOWN=30)
def test_resend_is_allowed_once_the_cooldown_has_passed(user):
    login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    _row, code = login_code_issue(user=user, challenge=CHALLENGE, now=later(30))

    login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(31))


def test_fourth_send_for_one_login_is_refused(user):
    for minute in range(3):
        login_code_issue(user=user, challenge=CHALLENGE, now=later(60 * minute))

    with pytest.raises(SendLimitReached):
        login_code_issue(user=user, challenge=CHALLENGE, now=later(60 * 3))
    with pytest.raises(SendLimitReached):
        login_code_issue(user=user, challenge=CHALLENGE, now=later(60 * 3 + 1))

    assert LoginCode.objects.filter(user=user, challenge=CHALLENGE).count() == 3


def test_send_limit_is_per_pending_login(user):
    for minute in range(3):
        login_code_issue(user=user, challenge=CHALLENGE, now=later(60 * minute))

    _row, code = login_code_issue(user=user, challenge=OTHER_CHALLENGE, now=later(60 * 3))

    login_code_verify(user=user, challenge=OTHER_CHALLENGE, code=code, now=later(60 * 3 + 1))


@override_settings(LOGIN_CODE_MAX_SENDS=1)
def test_send_limit_follows_the_setting(user):
    login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    with pytest.raises(SendLimitReached):
        login_code_issue(user=user, challenge=CHALLENGE, now=later(3600))


def test_send_status_counts_sends_and_cooldown(user):
    assert send_status(user=user, challenge=CHALLENGE, now=NOW) == SendStatus(3, 0)

    login_code_issue(user=user, challenge=CHALLENGE, now=NOW)
    assert send_status(user=user, challenge=CHALLENGE, now=later(15)) == SendStatus(2, 45)
    assert send_status(user=user, challenge=CHALLENGE, now=later(60)) == SendStatus(2, 0)
    assert send_status(user=user, challenge=OTHER_CHALLENGE, now=later(15)) == SendStatus(3, 0)

    login_code_issue(user=user, challenge=CHALLENGE, now=later(60))
    login_code_issue(user=user, challenge=CHALLENGE, now=later(120))
    assert send_status(user=user, challenge=CHALLENGE, now=later(125)) == SendStatus(0, 55)


def test_void_makes_the_code_unusable(user):
    row, code = login_code_issue(user=user, challenge=CHALLENGE, now=NOW)

    login_code_void(row, now=later(1))

    row.refresh_from_db()
    assert row.voided_at == later(1)
    with pytest.raises(NoActiveCode):
        login_code_verify(user=user, challenge=CHALLENGE, code=code, now=later(2))


# --- purging -------------------------------------------------------------------------------


def make_row(user, *, age: int, ttl: int = 300, **fields) -> LoginCode:
    """A stored code created `age` seconds before NOW."""
    created = NOW - timedelta(seconds=age)
    return LoginCode.objects.create(
        user=user,
        challenge=f"purge-{age}-{sorted(fields)}",
        code_hash="0" * 64,
        created_at=created,
        expires_at=created + timedelta(seconds=ttl),
        **fields,
    )


def test_purge_deletes_old_finished_codes_and_keeps_live_logins(user):
    old = 601  # older than PENDING_LOGIN_TTL (600): its pending login cannot be alive
    old_used = make_row(user, age=old, used_at=NOW - timedelta(seconds=old - 5))
    old_voided = make_row(user, age=old, voided_at=NOW - timedelta(seconds=old - 5))
    old_expired = make_row(user, age=old)
    recent_used = make_row(user, age=100, used_at=NOW - timedelta(seconds=90))
    recent_expired = make_row(user, age=400)
    recent_open = make_row(user, age=10)
    old_still_valid = make_row(user, age=old, ttl=3600)

    deleted = login_codes_purge(now=NOW)

    assert deleted == 3
    remaining = set(LoginCode.objects.values_list("pk", flat=True))
    assert remaining == {recent_used.pk, recent_expired.pk, recent_open.pk, old_still_valid.pk}
    assert not remaining & {old_used.pk, old_voided.pk, old_expired.pk}


@override_settings(PENDING_LOGIN_TTL=60)
def test_purge_cutoff_follows_pending_login_ttl(user):
    make_row(user, age=61, ttl=30)
    kept = make_row(user, age=59, ttl=30)

    assert login_codes_purge(now=NOW) == 1
    assert list(LoginCode.objects.values_list("pk", flat=True)) == [kept.pk]


def test_purge_with_nothing_to_delete_returns_zero(user):
    login_code_issue(user=user, challenge=CHALLENGE)

    assert login_codes_purge() == 0
    assert LoginCode.objects.count() == 1
