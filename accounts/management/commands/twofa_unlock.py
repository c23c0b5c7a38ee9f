"""`manage.py twofa_unlock EMAIL`: end a second-factor lock at once."""

from django.core.management.base import BaseCommand

from accounts.management.lookup import user_by_email
from accounts.services.audit import Kind, event_record
from accounts.services.lockout import second_factor_unlock


class Command(BaseCommand):
    help = "Unlock the user's second factor and reset the count of wrong codes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")

    def handle(self, *args, email: str, **options) -> None:
        user = user_by_email(email)
        was_locked = user.is_code_locked()
        second_factor_unlock(user)
        event_record(Kind.UNLOCKED, user=user, detail="by operator (twofa_unlock)")
        state = "was locked, now unlocked" if was_locked else "was not locked; count reset"
        self.stdout.write(self.style.SUCCESS(f"{user.email}: {state}."))
