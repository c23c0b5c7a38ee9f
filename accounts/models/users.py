"""The user: email is the login, `phone_number` receives codes, plus second-factor state."""

import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from ..fields import PhoneNumberField
from ..managers import UserManager, normalize_email_address
from ..phone import mask_phone_number


def new_session_token() -> str:
    """Return a fresh random token; changing it signs the user out everywhere."""
    return secrets.token_hex(16)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with email and password plus an SMS code to `phone_number`."""

    email = models.EmailField("email address", unique=True)
    phone_number = PhoneNumberField(
        "phone number",
        blank=True,
        help_text="Mobile number that receives login codes, e.g. +49 151 23456789.",
    )
    phone_verified_at = models.DateTimeField(
        "phone verified at",
        null=True,
        blank=True,
        help_text="Set when the user confirmed the number with a code. Codes for sign-in go "
        "only to a verified number; changing the number clears it.",
    )
    is_staff = models.BooleanField(
        "staff status",
        default=False,
        help_text="Whether the user can sign in to the admin site.",
    )
    is_active = models.BooleanField("active", default=True)
    date_joined = models.DateTimeField("date joined", default=timezone.now)
    session_token = models.CharField(max_length=32, default=new_session_token, editable=False)
    code_failures = models.PositiveIntegerField(
        "wrong codes in a row", default=0, help_text="Consecutive wrong codes across sign-ins."
    )
    code_lockouts = models.PositiveSmallIntegerField(
        "second-factor locks so far", default=0, help_text="Each new lock lasts twice as long."
    )
    locked_until = models.DateTimeField("second factor locked until", null=True, blank=True)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["phone_number"]

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email_address(self.email)

    def get_session_auth_hash(self) -> str:
        """Bind sessions to the password and to `session_token` (see AbstractBaseUser)."""
        return super().get_session_auth_hash() + self.session_token

    @property
    def has_verified_phone(self) -> bool:
        return bool(self.phone_number and self.phone_verified_at)

    @property
    def masked_phone_number(self) -> str:
        """Return the phone number with most digits hidden, or "" when there is none."""
        return mask_phone_number(self.phone_number)

    def is_code_locked(self, now: datetime | None = None) -> bool:
        """Tell whether the second factor is locked at `now`."""
        return self.locked_until is not None and self.locked_until > (now or timezone.now())
