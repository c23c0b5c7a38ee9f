"""`manage.py purge_login_codes`: delete used, voided and expired login codes."""

from django.core.management.base import BaseCommand

from accounts.services.codes import login_codes_purge


class Command(BaseCommand):
    help = "Delete login codes that can no longer be used, and print how many."

    def handle(self, *args, **options) -> None:
        deleted = login_codes_purge()
        self.stdout.write(f"Deleted {deleted} login code{'s' if deleted != 1 else ''}.")
