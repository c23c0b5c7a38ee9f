"""`manage.py twofa_reset EMAIL`: clear a user's second factors and force enrollment."""

from django.core.management.base import BaseCommand

from accounts.management.lookup import user_by_email
from accounts.services.audit import Kind, event_record
from accounts.services.factors import factors_reset


class Command(BaseCommand):
    help = (
        "Remove the user's authenticator app, recovery codes and remembered browsers, and "
        "mark the phone unconfirmed: the next sign-in starts with enrollment."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")

    def handle(self, *args, email: str, **options) -> None:
        user = user_by_email(email)
        factors_reset(user)
        event_record(Kind.FACTORS_RESET, user=user, detail="by operator (twofa_reset)")
        self.stdout.write(
            self.style.SUCCESS(
                f"{user.email}: second factors cleared; enrollment at next sign-in."
            )
        )
