"""Where and how many SMS may go: allowed destinations, per-phone and site-wide budgets.

Every SMS is first reserved as an `SmsSend` row while the single `SendGate` row is locked,
so concurrent requests in any number of processes cannot overshoot a limit.
"""

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from .. import conf
from ..exceptions import PhoneSmsLimitReached, ResendTooSoon, SmsBudgetReached
from ..models import SendGate, SmsSend, User

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class SmsUsage:
    """SMS counted in the last hour and the last 24 hours, with their limits."""

    last_hour: int
    hourly_limit: int
    last_day: int
    daily_limit: int

    @property
    def exhausted(self) -> bool:
        return self.last_hour >= self.hourly_limit or self.last_day >= self.daily_limit


def sms_usage(*, now: datetime | None = None) -> SmsUsage:
    """Return the site-wide SMS usage against the budgets."""
    now = now or timezone.now()
    limits = conf.abuse_limits()
    return SmsUsage(
        last_hour=SmsSend.objects.filter(created_at__gt=now - HOUR).count(),
        hourly_limit=limits.sms_budget_hourly,
        last_day=SmsSend.objects.filter(created_at__gt=now - DAY).count(),
        daily_limit=limits.sms_budget_daily,
    )


def sms_sent_to_phone(phone_number: str, *, now: datetime | None = None) -> int:
    """Return how many SMS went to this number in the last 24 hours."""
    now = now or timezone.now()
    return SmsSend.objects.filter(phone_number=phone_number, created_at__gt=now - DAY).count()


def lock_send_gate() -> None:
    """Take the site-wide SMS lock for the rest of the current transaction."""
    if not SendGate.objects.select_for_update().filter(pk=1).exists():
        SendGate.objects.get_or_create(pk=1)
        SendGate.objects.select_for_update().get(pk=1)


def sms_reserve(
    *, phone_number: str, user: User | None, purpose: str, now: datetime | None = None
) -> SmsSend:
    """Count one SMS against the limits and return its row.

    Raises SmsBudgetReached (site-wide hour or day) or PhoneSmsLimitReached.
    """
    now = now or timezone.now()
    with transaction.atomic():
        lock_send_gate()
        limits = conf.abuse_limits()
        counts = SmsSend.objects.filter(created_at__gt=now - DAY).aggregate(
            last_day=Count("pk"),
            last_hour=Count("pk", filter=Q(created_at__gt=now - HOUR)),
            to_phone=Count("pk", filter=Q(phone_number=phone_number)),
        )
        if counts["last_hour"] >= limits.sms_budget_hourly:
            raise SmsBudgetReached(period="hourly")
        if counts["last_day"] >= limits.sms_budget_daily:
            raise SmsBudgetReached(period="daily")
        if counts["to_phone"] >= limits.sms_per_phone_daily:
            raise PhoneSmsLimitReached()
        if purpose == SmsSend.Purpose.LOGIN:
            phone_cooldown_check(phone_number, now=now)
        return SmsSend.objects.create(
            phone_number=phone_number, user=user, purpose=purpose, created_at=now
        )


def phone_cooldown_check(phone_number: str, *, now: datetime) -> None:
    """Raise ResendTooSoon while the number got a code within the resend cooldown.

    The cooldown per pending login alone would let several password steps in a row text
    the same phone; this one holds per number, whichever sign-in asks.
    """
    seconds = conf.abuse_limits().sms_phone_cooldown
    if seconds <= 0:
        return
    cooldown = timedelta(seconds=seconds)
    last = (
        SmsSend.objects.filter(
            phone_number=phone_number,
            purpose=SmsSend.Purpose.LOGIN,
            created_at__gt=now - cooldown,
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is not None:
        raise ResendTooSoon(max(1, math.ceil((last + cooldown - now).total_seconds())))


def sms_outcome_record(send: SmsSend, *, delivered: bool) -> None:
    """Store whether the backend took the SMS."""
    SmsSend.objects.filter(pk=send.pk).update(delivered=delivered)
