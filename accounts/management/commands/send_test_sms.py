"""`manage.py send_test_sms NUMBER`: send one message through the configured backend."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import conf, sms
from accounts.exceptions import LimitReached, SmsConfigurationError, SmsDeliveryError
from accounts.models import SmsSend
from accounts.phone import normalize_sms_number
from accounts.services.sms_quota import sms_outcome_record, sms_reserve

TEST_TEXT = "Test message from {site}. If you got this, SMS delivery works."


class Command(BaseCommand):
    help = (
        "Send one test SMS to NUMBER through SMS_BACKEND and report the outcome. The number "
        "must be an allowed mobile destination, and the SMS counts against the budgets."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("number", help="Recipient, e.g. +4915123456789")

    def handle(self, *args, number: str, **options) -> None:
        try:
            recipient = normalize_sms_number(number)
        except ValidationError as err:
            raise CommandError(
                f"Invalid phone number {number!r}: {' '.join(err.messages)}"
            ) from err
        try:
            send = sms_reserve(phone_number=recipient, user=None, purpose=SmsSend.Purpose.TEST)
        except LimitReached as err:
            raise CommandError(f"Not sent: {err.message}") from err
        try:
            sms.send_sms(recipient, TEST_TEXT.format(site=conf.site_name()))
        except SmsConfigurationError as err:
            sms_outcome_record(send, delivered=False)
            raise CommandError(f"SMS backend misconfigured: {err}") from err
        except SmsDeliveryError as err:
            sms_outcome_record(send, delivered=False)
            status = f"HTTP {err.status}" if err.status else "no answer"
            raise CommandError(f"Sending failed ({status}): {err.hint}") from err
        sms_outcome_record(send, delivered=True)
        self.stdout.write(self.style.SUCCESS(f"Sent a test SMS to {recipient}."))
