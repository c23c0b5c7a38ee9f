"""Tests of accounts/phone.py, the PhoneNumberField, the User model and manager, and LoginCode."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms import modelform_factory
from django.test import override_settings

from accounts.models import LoginCode, User
from accounts.phone import mask_phone_number, normalize_phone_number
from tests.conftest import DEFAULT_PASSWORD

NOW = datetime(2030, 1, 2, 12, 0, 0, tzinfo=UTC)

# --- normalize_phone_number ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("0151 23456789", "DE", "+4915123456789"),
        ("015123456789", "DE", "+4915123456789"),
        ("+49 151 23456789", "DE", "+4915123456789"),
        ("+49 (0)151 234-567-89", "DE", "+4915123456789"),
        ("  +49 151 23456789  ", "DE", "+4915123456789"),
        ("+43 664 1234567", "DE", "+436641234567"),
        ("0664 1234567", "AT", "+436641234567"),
        ("+41 79 123 45 67", "DE", "+41791234567"),
    ],
)
def test_normalize_returns_e164(raw, region, expected):
    assert normalize_phone_number(raw, region=region) == expected


@override_settings(PHONE_DEFAULT_REGION="AT")
def test_normalize_reads_national_numbers_in_the_default_region():
    assert normalize_phone_number("0664 1234567") == "+436641234567"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        None,
        "not a number",
        "hello+49",
        "12",
        "+49 123",
        "+999 1234567",
        "+4915123456789" + "0" * 30,
        "+49" + " " * 40 + "15123456789",
    ],
)
def test_normalize_rejects_garbage_empty_and_too_long_input(raw):
    with pytest.raises(ValidationError) as info:
        normalize_phone_number(raw, region="DE")

    assert info.value.code == "invalid_phone"


# --- mask_phone_number ---------------------------------------------------------------------


def test_mask_keeps_country_prefix_and_last_two_digits_only():
    masked = mask_phone_number("+4915123456789")

    assert masked.startswith("+49 ")
    assert masked.endswith("89")
    assert re.sub(r"\D", "", masked) == "4989"
    assert masked.count("•") == len("15123456789") - 2


def test_mask_of_empty_number_is_empty():
    assert mask_phone_number("") == ""


@pytest.mark.parametrize(
    ("number", "country_code"),
    [("+12025550123", "1"), ("+436641234567", "43"), ("+353851234567", "353")],
)
def test_mask_shows_exactly_the_country_code_and_the_last_two_digits(number, country_code):
    masked = mask_phone_number(number)

    assert masked.startswith(f"+{country_code} ")
    assert re.sub(r"\D", "", masked) == country_code + number[-2:]


def test_user_masked_phone_number(make_user):
    user = make_user(phone_number="+4915123456789")
    no_phone = make_user(phone_number="")

    assert user.masked_phone_number == mask_phone_number("+4915123456789")
    assert "15123456" not in user.masked_phone_number
    assert no_phone.masked_phone_number == ""


# --- User and UserManager ------------------------------------------------------------------


def test_create_user_stores_email_lower_case_and_hashes_the_password(make_user):
    user = make_user("  Alice.Smith@Example.COM ")

    user.refresh_from_db()
    assert user.email == "alice.smith@example.com"
    assert user.password != DEFAULT_PASSWORD
    assert user.check_password(DEFAULT_PASSWORD)
    assert not user.is_staff
    assert not user.is_superuser
    assert user.is_active


def test_email_is_unique_ignoring_case_through_the_manager(make_user):
    make_user("A@x.com")

    with transaction.atomic(), pytest.raises(IntegrityError):
        make_user("a@X.com")

    assert User.objects.count() == 1


def test_email_is_unique_ignoring_case_in_the_database(db):
    User.objects.create(email="Bob@Example.com")

    with transaction.atomic(), pytest.raises(IntegrityError):
        User.objects.create(email="bob@example.COM")


def test_full_clean_rejects_an_email_that_differs_only_in_case(make_user):
    make_user("A@x.com")
    duplicate = User(email="a@X.com")
    duplicate.set_password(DEFAULT_PASSWORD)

    with pytest.raises(ValidationError) as info:
        duplicate.full_clean()

    assert "email" in info.value.message_dict


def test_full_clean_lower_cases_the_email(db):
    user = User(email="Carol@Example.COM")
    user.set_password(DEFAULT_PASSWORD)

    user.full_clean()

    assert user.email == "carol@example.com"


def test_create_user_without_email_raises_value_error(db):
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("", DEFAULT_PASSWORD)


def test_create_user_normalises_the_phone_number(make_user):
    user = make_user(phone_number="0151 23456789")

    user.refresh_from_db()
    assert user.phone_number == "+4915123456789"


def test_create_user_without_phone_number_stores_blank(make_user):
    assert make_user(phone_number="").phone_number == ""


@pytest.mark.parametrize("phone", ["12345", "not a phone", "+49 123"])
def test_create_user_rejects_an_invalid_phone_number(make_user, phone):
    with pytest.raises(ValidationError):
        make_user("dave@example.com", phone_number=phone)

    assert not User.objects.filter(email="dave@example.com").exists()


@pytest.mark.parametrize(
    "phone",
    [
        pytest.param("+49 30 12345678", id="german-landline"),
        pytest.param("+1 202 555 0123", id="country-not-allowed"),
    ],
)
def test_create_user_rejects_numbers_that_may_not_receive_codes(make_user, phone):
    with pytest.raises(ValidationError):
        make_user("erin@example.com", phone_number=phone)

    assert not User.objects.filter(email="erin@example.com").exists()


def test_create_superuser_sets_the_flags(db):
    admin = User.objects.create_superuser(
        "Root@Example.com", DEFAULT_PASSWORD, phone_number="+4915199999999"
    )

    assert admin.is_staff
    assert admin.is_superuser
    assert admin.email == "root@example.com"
    assert admin.check_password(DEFAULT_PASSWORD)


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_create_superuser_refuses_without_its_flags(db, flag):
    with pytest.raises(ValueError, match="superuser"):
        User.objects.create_superuser("root@example.com", DEFAULT_PASSWORD, **{flag: False})

    assert not User.objects.exists()


@pytest.mark.parametrize(
    "typed", ["alice@example.com", "ALICE@Example.COM", " Alice@example.com "]
)
def test_get_by_natural_key_ignores_case(user, typed):
    assert User.objects.get_by_natural_key(typed) == user


def test_get_by_natural_key_unknown_raises_does_not_exist(user):
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key("bob@example.com")


def test_authenticate_accepts_the_email_in_any_case(user):
    assert authenticate(None, username="ALICE@EXAMPLE.COM", password=DEFAULT_PASSWORD) == user
    assert authenticate(None, username="alice@example.com", password="wrong") is None


# --- PhoneNumberField ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["0151 23456789", "+49 151 23456789", "+49 151 234 567 89", "+49 (0)151 234-567-89"]
)
def test_full_clean_normalises_the_phone_number(user, typed):
    user.phone_number = typed

    user.full_clean()

    assert user.phone_number == "+4915123456789"


def test_full_clean_rejects_an_invalid_phone_number(user):
    user.phone_number = "0000"

    with pytest.raises(ValidationError) as info:
        user.full_clean()

    assert "phone_number" in info.value.message_dict


@pytest.mark.parametrize("typed", ["+49 30 12345678", "+1 202 555 0123"])
def test_full_clean_rejects_a_landline_or_foreign_number(user, typed):
    user.phone_number = typed

    with pytest.raises(ValidationError) as info:
        user.full_clean()

    assert "phone_number" in info.value.message_dict


def test_full_clean_keeps_a_blank_phone_number(user):
    user.phone_number = ""

    user.full_clean()

    assert user.phone_number == ""


@pytest.mark.parametrize("typed", ["0151 23456789", "+49 151 234 567 89"])
def test_model_form_accepts_and_normalises_a_formatted_phone_number(user, typed):
    form_class = modelform_factory(User, fields=["phone_number"])
    form = form_class(data={"phone_number": typed}, instance=user)

    assert form.is_valid(), form.errors
    assert form.instance.phone_number == "+4915123456789"


# --- LoginCode -----------------------------------------------------------------------------


def make_code(user, **fields) -> LoginCode:
    values = {
        "challenge": "challenge",
        "code_hash": "0" * 64,
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=5),
        **fields,
    }
    return LoginCode.objects.create(user=user, **values)


def test_login_code_state(user):
    code = make_code(user)

    assert code.state(NOW) == "open"
    assert code.state(NOW + timedelta(minutes=5) - timedelta(seconds=1)) == "open"
    assert code.state(NOW + timedelta(minutes=5)) == "expired"
    code.voided_at = NOW
    assert code.state(NOW) == "voided"
    code.used_at = NOW
    assert code.state(NOW) == "used"


def test_login_code_state_defaults_to_the_current_time(user):
    past = LoginCode.objects.create(
        user=user, challenge="c", code_hash="0" * 64, expires_at=datetime(2000, 1, 1, tzinfo=UTC)
    )

    assert past.state() == "expired"
    assert "expired" in str(past)
    assert user.email in str(past)


def test_login_code_querysets_open_and_finished(user):
    open_code = make_code(user)
    used = make_code(user, used_at=NOW)
    voided = make_code(user, voided_at=NOW)
    expired = make_code(user, expires_at=NOW - timedelta(seconds=1))

    assert set(LoginCode.objects.open()) == {open_code, expired}
    assert set(LoginCode.objects.finished(NOW)) == {used, voided, expired}


def test_login_codes_are_deleted_with_their_user(user):
    make_code(user)

    user.delete()

    assert not LoginCode.objects.exists()
