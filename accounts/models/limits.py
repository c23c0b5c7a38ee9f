"""Counters behind the abuse limits. They live in the database so that every server process
and machine sees the same numbers; nothing is counted in process memory."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Throttle(models.Model):
    """A counter for one (scope, key): a client IP, or an account's wrong passwords.

    `key` is an HMAC of the identifier, so the table holds no email addresses.
    """

    scope = models.CharField(max_length=32)
    key = models.CharField(max_length=64)
    window_start = models.DateTimeField(default=timezone.now)
    count = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="accounts_throttle_scope_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} throttle ({self.count})"


class SmsSend(models.Model):
    """One SMS handed (or about to be handed) to the SMS backend.

    Rows are counted for the per-phone limit and the site-wide budget, so an attempt counts
    even when its outcome is unknown (a timeout may still have delivered it).
    """

    class Purpose(models.TextChoices):
        LOGIN = "login", "login code"
        TEST = "test", "test message"
        NOTICE = "notice", "notice"

    phone_number = models.CharField(max_length=16, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.LOGIN)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered = models.BooleanField(null=True, help_text="Empty while the send is under way.")

    class Meta:
        verbose_name = "SMS sent"
        verbose_name_plural = "SMS sent"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"SMS at {self.created_at:%Y-%m-%d %H:%M}"


class SendGate(models.Model):
    """A single row locked while an SMS is counted against the budgets, so that concurrent
    requests in any process cannot all slip under a limit at once."""

    class Meta:
        verbose_name = "SMS send gate"

    def __str__(self) -> str:
        return "SMS send gate"
