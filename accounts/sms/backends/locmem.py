"""Test backend: keeps each SMS in `accounts.sms.outbox` (emptied for each test)."""

from ... import sms
from .base import BaseSmsBackend, SmsMessage


class SmsBackend(BaseSmsBackend):
    def send_message(self, message: SmsMessage) -> None:
        sms.outbox.append(message)
