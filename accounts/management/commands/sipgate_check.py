"""`manage.py sipgate_check`: are the sipgate credentials and SIPGATE_SMS_ID usable?"""

from django.core.management.base import BaseCommand, CommandError

from accounts import conf
from accounts.exceptions import SmsDeliveryError
from accounts.sms.client import SipgateClient


class Command(BaseCommand):
    help = (
        "Check the sipgate token with GET /authorization/userinfo and look SIPGATE_SMS_ID up "
        "among the account's SMS extensions. Sends nothing."
    )

    def handle(self, *args, **options) -> None:
        settings = conf.sipgate_settings()
        if not (settings.token_id and settings.token):
            raise CommandError("SIPGATE_TOKEN_ID and SIPGATE_TOKEN must be set.")
        client = SipgateClient(
            token_id=settings.token_id,
            token=settings.token,
            base_url=settings.api_url,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )
        try:
            user_id = client.userinfo()["sub"]
        except SmsDeliveryError as err:
            raise CommandError(f"Credentials check failed: {describe(err)}") from err
        self.stdout.write(self.style.SUCCESS(f"Credentials work (web user {user_id})."))
        self.report_sms_id(client, user_id, settings.sms_id)

    def report_sms_id(self, client: SipgateClient, user_id: str, sms_id: str) -> None:
        """Print whether `sms_id` is one of the account's extensions; lookup failure warns."""
        try:
            ids = [item.get("id") for item in client.sms_extensions(user_id)]
        except SmsDeliveryError as err:
            self.stdout.write(
                self.style.WARNING(
                    f"Warning: could not list SMS extensions ({describe(err)}). "
                    f"SIPGATE_SMS_ID {sms_id} may still work; try send_test_sms."
                )
            )
            return
        if sms_id in ids:
            self.stdout.write(self.style.SUCCESS(f"SIPGATE_SMS_ID {sms_id} is an SMS extension."))
        else:
            found = ", ".join(str(i) for i in ids) or "none"
            raise CommandError(f"SIPGATE_SMS_ID {sms_id} is not among the extensions ({found}).")


def describe(err: SmsDeliveryError) -> str:
    """Return a one-line description of a failed call, without any secret."""
    return f"HTTP {err.status}: {err.hint}" if err.status else err.hint
