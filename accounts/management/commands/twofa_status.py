"""`manage.py twofa_status [EMAIL ...]`: the second-factor state of some or all users."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.management.lookup import user_by_email
from accounts.models import User
from accounts.services.sms_quota import sms_sent_to_phone


class Command(BaseCommand):
    help = "Show phone (masked), lock state, wrong codes in a row and SMS in the last 24 h."

    def add_arguments(self, parser) -> None:
        parser.add_argument("emails", nargs="*", metavar="EMAIL")

    def handle(self, *args, emails: list[str], **options) -> None:
        users = list(self.selected_users(emails))
        now = timezone.now()
        for user in users:
            self.stdout.write(describe_user(user, now=now))
        if not users:
            self.stdout.write("No users.")

    def selected_users(self, emails: list[str]):
        """Return the named users (raising CommandError for unknown ones), or all users."""
        if not emails:
            return User.objects.order_by("email")
        return [user_by_email(email) for email in emails]


def describe_user(user: User, *, now) -> str:
    """Return one line about the user's second factor."""
    if user.is_code_locked(now):
        lock = f"locked until {timezone.localtime(user.locked_until):%Y-%m-%d %H:%M %Z}"
    else:
        lock = "not locked"
    sms = sms_sent_to_phone(user.phone_number, now=now) if user.phone_number else 0
    return (
        f"{user.email}: phone {user.masked_phone_number or 'none'}, {lock}, "
        f"{user.code_failures} wrong code(s) in a row, {sms} SMS in 24 h"
    )
