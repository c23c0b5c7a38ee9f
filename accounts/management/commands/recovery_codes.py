"""`manage.py recovery_codes EMAIL`: a new set of recovery codes, printed once."""

from django.core.management.base import BaseCommand

from accounts.management.lookup import user_by_email
from accounts.services.audit import Kind, event_record
from accounts.services.recovery import recovery_codes_generate


class Command(BaseCommand):
    help = (
        "Generate 10 new recovery codes for the user (voiding the old ones) and print them "
        "once, for support staff to hand over."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")

    def handle(self, *args, email: str, **options) -> None:
        user = user_by_email(email)
        codes = recovery_codes_generate(user)
        event_record(Kind.RECOVERY_GENERATED, user=user, detail="by operator (recovery_codes)")
        self.stdout.write(f"New recovery codes for {user.email} (the old ones no longer work):")
        for code in codes:
            self.stdout.write(code)
