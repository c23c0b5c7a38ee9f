"""`manage.py purge_login_codes`: delete login codes and counters that serve no more."""

from django.core.management.base import BaseCommand

from accounts.services.codes import login_codes_purge
from accounts.services.throttles import throttles_purge


class Command(BaseCommand):
    help = (
        "Delete login codes that can no longer be used, and throttle counters that no longer "
        "hold anything back; print how many."
    )

    def handle(self, *args, **options) -> None:
        deleted = login_codes_purge()
        self.stdout.write(f"Deleted {deleted} login code{'s' if deleted != 1 else ''}.")
        counters = throttles_purge()
        self.stdout.write(
            f"Deleted {counters} stale throttle counter{'s' if counters != 1 else ''}."
        )
