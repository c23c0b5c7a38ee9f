"""The SMS quota service: reserving a send against the per-phone and site-wide budgets.

Windows are rolling: a send counts while it is younger than one hour (hourly budget) or
24 hours (daily budget and per phone), measured from the `now` of the question.
"""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.exceptions import PhoneSmsLimitReached, SmsBudgetReached
from accounts.models import SendGate, SmsSend
from accounts.services.sms_quota import (
    sms_outcome_record,
    sms_reserve,
    sms_sent_to_phone,
    sms_usage,
)

PHONE = "+4915123456789"
OTHER_PHONE = "+4915198765432"

pytestmark = pytest.mark.django_db


def sent(phone: str = PHONE, *, ago: timedelta = timedelta(0), count: int = 1) -> None:
    """Store `count` SMS to `phone` as sent `ago` before now."""
    at = timezone.now() - ago
    SmsSend.objects.bulk_create(
        SmsSend(phone_number=phone, created_at=at, delivered=True) for _ in range(count)
    )


def reserve(phone: str = PHONE, **kwargs) -> SmsSend:
    return sms_reserve(phone_number=phone, user=None, purpose=SmsSend.Purpose.LOGIN, **kwargs)


# --- sms_usage -----------------------------------------------------------------------------


def test_usage_of_an_empty_site_is_zero_and_not_exhausted():
    usage = sms_usage()

    assert (usage.last_hour, usage.last_day) == (0, 0)
    assert not usage.exhausted


@override_settings(SMS_BUDGET_HOURLY=7, SMS_BUDGET_DAILY=70)
def test_usage_reports_the_configured_limits():
    usage = sms_usage()

    assert (usage.hourly_limit, usage.daily_limit) == (7, 70)


def test_usage_counts_rolling_hour_and_day():
    sent(ago=timedelta(minutes=1), count=2)
    sent(OTHER_PHONE, ago=timedelta(minutes=59))
    sent(ago=timedelta(minutes=61), count=3)
    sent(ago=timedelta(hours=23, minutes=59))
    sent(ago=timedelta(hours=24, minutes=1), count=5)

    usage = sms_usage()

    assert usage.last_hour == 3
    assert usage.last_day == 7


def test_usage_windows_roll_with_now():
    sent(count=2)
    now = timezone.now()

    assert sms_usage(now=now + timedelta(minutes=59)).last_hour == 2
    assert sms_usage(now=now + timedelta(minutes=61)).last_hour == 0
    assert sms_usage(now=now + timedelta(minutes=61)).last_day == 2
    assert sms_usage(now=now + timedelta(hours=24, seconds=1)).last_day == 0


def test_a_send_exactly_one_window_old_no_longer_counts():
    now = timezone.now()
    SmsSend.objects.create(phone_number=PHONE, created_at=now - timedelta(hours=1))
    SmsSend.objects.create(phone_number=PHONE, created_at=now - timedelta(days=1))

    usage = sms_usage(now=now)

    assert (usage.last_hour, usage.last_day) == (0, 1)


@override_settings(SMS_BUDGET_HOURLY=2, SMS_BUDGET_DAILY=10)
def test_usage_is_exhausted_at_the_hourly_limit():
    sent(count=1)
    assert not sms_usage().exhausted
    sent(count=1)
    assert sms_usage().exhausted


@override_settings(SMS_BUDGET_HOURLY=10, SMS_BUDGET_DAILY=2)
def test_usage_is_exhausted_at_the_daily_limit():
    sent(ago=timedelta(hours=5), count=2)

    assert sms_usage().exhausted


def test_usage_counts_sends_whose_outcome_is_unknown_or_failed():
    SmsSend.objects.create(phone_number=PHONE, delivered=None)
    SmsSend.objects.create(phone_number=PHONE, delivered=False)

    assert sms_usage().last_hour == 2


# --- sms_sent_to_phone ---------------------------------------------------------------------


def test_sent_to_phone_counts_only_that_number_in_the_last_24_hours():
    sent(count=2)
    sent(ago=timedelta(hours=23), count=1)
    sent(ago=timedelta(hours=25), count=4)
    sent(OTHER_PHONE, count=3)

    assert sms_sent_to_phone(PHONE) == 3
    assert sms_sent_to_phone(OTHER_PHONE) == 3
    assert sms_sent_to_phone("+4915100000000") == 0


def test_sent_to_phone_window_rolls_with_now():
    sent(count=2)
    now = timezone.now()

    assert sms_sent_to_phone(PHONE, now=now + timedelta(hours=23)) == 2
    assert sms_sent_to_phone(PHONE, now=now + timedelta(hours=24, seconds=1)) == 0


# --- sms_reserve ---------------------------------------------------------------------------


def test_reserve_stores_a_row_with_phone_user_purpose_and_time(user):
    now = timezone.now()

    row = sms_reserve(phone_number=PHONE, user=user, purpose=SmsSend.Purpose.TEST, now=now)

    stored = SmsSend.objects.get()
    assert stored.pk == row.pk
    assert (stored.phone_number, stored.user, stored.purpose) == (PHONE, user, "test")
    assert stored.created_at == now
    assert stored.delivered is None
    assert SendGate.objects.filter(pk=1).exists()


def test_outcome_is_recorded_on_the_row():
    ok, failed = reserve(), reserve(OTHER_PHONE)

    sms_outcome_record(ok, delivered=True)
    sms_outcome_record(failed, delivered=False)

    assert SmsSend.objects.get(pk=ok.pk).delivered is True
    assert SmsSend.objects.get(pk=failed.pk).delivered is False


@override_settings(SMS_PER_PHONE_DAILY=3)
def test_reserve_refuses_the_phone_after_its_daily_count():
    for _ in range(3):
        reserve()

    with pytest.raises(PhoneSmsLimitReached) as refused:
        reserve()

    assert refused.value.limit == "phone-daily"
    assert "Too many codes were sent to this phone" in refused.value.message
    assert SmsSend.objects.count() == 3
    reserve(OTHER_PHONE)  # another phone is not affected
    assert SmsSend.objects.count() == 4


@override_settings(SMS_PER_PHONE_DAILY=2)
def test_reserve_for_the_phone_again_once_old_sends_leave_the_window():
    sent(ago=timedelta(hours=23, minutes=30), count=2)
    now = timezone.now()

    with pytest.raises(PhoneSmsLimitReached):
        reserve(now=now)
    row = reserve(now=now + timedelta(minutes=31))

    assert row.pk is not None


@override_settings(SMS_BUDGET_HOURLY=2, SMS_BUDGET_DAILY=100, SMS_PER_PHONE_DAILY=100)
def test_reserve_refuses_everyone_at_the_hourly_budget():
    reserve()
    reserve(OTHER_PHONE)

    with pytest.raises(SmsBudgetReached) as refused:
        reserve("+4915100000001")

    assert refused.value.limit == "budget-hourly"
    assert refused.value.message == "We cannot send codes right now. Please try again later."
    assert SmsSend.objects.count() == 2


@override_settings(SMS_BUDGET_HOURLY=2, SMS_BUDGET_DAILY=100, SMS_PER_PHONE_DAILY=100)
def test_hourly_budget_frees_up_as_the_hour_rolls():
    sent(ago=timedelta(minutes=50), count=2)
    now = timezone.now()

    with pytest.raises(SmsBudgetReached):
        reserve(now=now)
    assert reserve(now=now + timedelta(minutes=11)).pk is not None


@override_settings(SMS_BUDGET_HOURLY=100, SMS_BUDGET_DAILY=3, SMS_PER_PHONE_DAILY=100)
def test_reserve_refuses_at_the_daily_budget_even_when_the_hour_is_quiet():
    sent(ago=timedelta(hours=20), count=3)
    now = timezone.now()

    with pytest.raises(SmsBudgetReached) as refused:
        reserve(OTHER_PHONE, now=now)

    assert refused.value.limit == "budget-daily"
    assert reserve(OTHER_PHONE, now=now + timedelta(hours=4, minutes=1)).pk is not None


@override_settings(SMS_BUDGET_HOURLY=1, SMS_BUDGET_DAILY=1, SMS_PER_PHONE_DAILY=1)
def test_site_budget_is_checked_before_the_phone_limit():
    reserve()

    with pytest.raises(SmsBudgetReached):
        reserve()


@override_settings(SMS_BUDGET_HOURLY=3, SMS_BUDGET_DAILY=100, SMS_PER_PHONE_DAILY=100)
def test_failed_and_unknown_sends_count_against_the_budget():
    sms_outcome_record(reserve(), delivered=False)
    reserve()  # outcome never recorded, e.g. a timeout
    reserve()

    with pytest.raises(SmsBudgetReached):
        reserve()


@override_settings(SMS_BUDGET_HOURLY=5, SMS_BUDGET_DAILY=5, SMS_PER_PHONE_DAILY=5)
def test_a_refusal_stores_nothing():
    for _ in range(5):
        reserve()

    for phone in (PHONE, OTHER_PHONE):
        with pytest.raises(SmsBudgetReached):
            reserve(phone)

    assert SmsSend.objects.count() == 5
    assert sms_usage().last_hour == 5
