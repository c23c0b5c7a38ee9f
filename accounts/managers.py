"""The manager for accounts.User: users are created and found by email."""

from django.contrib.auth.base_user import BaseUserManager

from .phone import normalize_sms_number


def normalize_email_address(email: str) -> str:
    """Return the email stripped and lower-cased, the form in which it is stored."""
    return (email or "").strip().lower()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username: str):
        """Return the user with this email, ignoring case; raise DoesNotExist otherwise."""
        return self.get(email__iexact=normalize_email_address(username))

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        phone = extra_fields.pop("phone_number", "") or ""
        user = self.model(
            email=normalize_email_address(email),
            phone_number=normalize_sms_number(phone) if phone else "",
            **extra_fields,
        )
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        """Create and return a regular user.

        Raises ValueError without an email and ValidationError for an invalid phone number.
        """
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        """Create and return a superuser (staff and all permissions)."""
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser must have is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra_fields)
