"""`manage.py purge_auth_events --older-than DAYS`: trim the audit trail."""

from django.core.management.base import BaseCommand, CommandError

from accounts.services.audit import events_purge


class Command(BaseCommand):
    help = "Delete sign-in events older than DAYS days, and print how many."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")

    def handle(self, *args, older_than: int, **options) -> None:
        if older_than < 1:
            raise CommandError("--older-than must be at least 1 day.")
        deleted = events_purge(older_than_days=older_than)
        self.stdout.write(f"Deleted {deleted} event{'s' if deleted != 1 else ''}.")
