"""`manage.py createuser EMAIL --phone NUMBER [--staff] [--superuser] [--noinput]`."""

import getpass
import os

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.managers import normalize_email_address
from accounts.models import User
from accounts.phone import normalize_sms_number

PASSWORD_ENV = "DJANGO_USER_PASSWORD"  # noqa: S105 (a variable name, not a password)


class Command(BaseCommand):
    help = (
        "Create a user who signs in with EMAIL and a code sent to --phone. Prompts for the "
        f"password twice, or with --noinput reads it from {PASSWORD_ENV}."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")
        parser.add_argument("--phone", required=True, help="Mobile number, e.g. +4915123456789")
        parser.add_argument("--staff", action="store_true", help="May use the admin site.")
        parser.add_argument("--superuser", action="store_true", help="Staff with all rights.")
        parser.add_argument(
            "--verified",
            action="store_true",
            help="Mark the number as confirmed. Without it the user confirms it with a code "
            "at the first sign-in.",
        )
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(
        self,
        *args,
        email: str,
        phone: str,
        staff: bool,
        superuser: bool,
        verified: bool,
        **options,
    ):
        email = validated_email(email)
        phone_number = validated_phone(phone)
        candidate = User(email=email, phone_number=phone_number)
        password = self.read_password(candidate, interactive=options["interactive"])
        create = User.objects.create_superuser if superuser else User.objects.create_user
        extra = {} if superuser else {"is_staff": staff}
        if verified:
            extra["phone_verified_at"] = timezone.now()
        user = create(email, password, phone_number=phone_number, **extra)
        role = "superuser" if superuser else "staff user" if staff else "user"
        self.stdout.write(self.style.SUCCESS(f"Created {role} {user.email}."))

    def read_password(self, candidate: User, *, interactive: bool) -> str:
        """Return a password that passes the validators; raises CommandError otherwise."""
        if interactive:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords do not match.")
        else:
            password = os.environ.get(PASSWORD_ENV, "")
            if not password:
                raise CommandError(f"With --noinput, set the password in {PASSWORD_ENV}.")
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as err:
            raise CommandError("Password rejected: " + " ".join(err.messages)) from err
        return password


def validated_email(raw: str) -> str:
    """Return the normalised email; raises CommandError if it is invalid or taken."""
    email = normalize_email_address(raw)
    if not email:
        raise CommandError("An email address is required.")
    try:
        User._meta.get_field("email").run_validators(email)
    except ValidationError as err:
        raise CommandError(f"Invalid email address {raw!r}.") from err
    if User.objects.filter(email__iexact=email).exists():
        raise CommandError(f"A user with the email {email} already exists.")
    return email


def validated_phone(raw: str) -> str:
    """Return the number in E.164; raises CommandError if it is invalid."""
    try:
        return normalize_sms_number(raw)
    except ValidationError as err:
        raise CommandError(f"Invalid phone number {raw!r}: {' '.join(err.messages)}") from err
