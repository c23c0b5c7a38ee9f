"""Model fields of the accounts app."""

from django.db import models

from .phone import MAX_INPUT_LENGTH, normalize_sms_number


class PhoneNumberField(models.CharField):
    """A phone number stored in E.164; any readable input is normalised on clean.

    Blank stays blank. Model forms and `full_clean()` turn "0151 2345678" into
    "+491512345678" (with the default region) or raise ValidationError.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", 16)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs):
        # Typed input may hold spaces and dashes; the stored E.164 value is checked at 16.
        return super().formfield(**{"max_length": MAX_INPUT_LENGTH, **kwargs})

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        return normalize_sms_number(value)
