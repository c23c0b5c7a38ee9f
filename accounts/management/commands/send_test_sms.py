"""`manage.py send_test_sms NUMBER`: send one message through the configured backend."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import conf, sms
from accounts.exceptions import SmsConfigurationError, SmsDeliveryError
from accounts.phone import normalize_phone_number

TEST_TEXT = "Test message from {site}. If you got this, SMS delivery works."


class Command(BaseCommand):
    help = "Send one test SMS to NUMBER through SMS_BACKEND and report the outcome."

    def add_arguments(self, parser) -> None:
        parser.add_argument("number", help="Recipient, e.g. +4915123456789")

    def handle(self, *args, number: str, **options) -> None:
        try:
            recipient = normalize_phone_number(number)
        except ValidationError as err:
            raise CommandError(f"Invalid phone number {number!r}.") from err
        try:
            sms.send_sms(recipient, TEST_TEXT.format(site=conf.site_name()))
        except SmsConfigurationError as err:
            raise CommandError(f"SMS backend misconfigured: {err}") from err
        except SmsDeliveryError as err:
            status = f"HTTP {err.status}" if err.status else "no answer"
            raise CommandError(f"Sending failed ({status}): {err.hint}") from err
        self.stdout.write(self.style.SUCCESS(f"Sent a test SMS to {recipient}."))
