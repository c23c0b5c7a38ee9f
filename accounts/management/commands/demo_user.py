"""`manage.py demo_user`: a staff account for trying the site in development."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User

DEMO_EMAIL = "demo@example.com"
DEMO_PHONE = "+4915799912345"


class Command(BaseCommand):
    help = (
        "Create or reset the demo staff user with a fresh random password and print the "
        "credentials. Development only: refuses to run with DEBUG off."
    )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_user is for development only (DEBUG is off).")
        password = secrets.token_urlsafe(12)
        user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(
                DEMO_EMAIL,
                password,
                phone_number=DEMO_PHONE,
                phone_verified_at=timezone.now(),
                is_staff=True,
                is_superuser=True,
            )
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo staff user: {user.email}  password: {password}\n"
                "Sign-in codes appear in this terminal (console SMS backend)."
            )
        )
