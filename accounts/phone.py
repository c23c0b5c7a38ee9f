"""Phone numbers: parse user input into E.164, and mask a number for display."""

import phonenumbers
from django.core.exceptions import ValidationError

from . import conf

MAX_INPUT_LENGTH = 40
INVALID_MESSAGE = "Enter a valid phone number, for example +49 151 23456789."


def normalize_phone_number(raw: str, *, region: str | None = None) -> str:
    """Return `raw` as an E.164 string such as "+4915123456789".

    Numbers without a country code are read in `region` (default PHONE_DEFAULT_REGION).
    Raises ValidationError when the input is not a valid, dialable number.
    """
    text = (raw or "").strip()
    if not text or len(text) > MAX_INPUT_LENGTH:
        raise ValidationError(INVALID_MESSAGE, code="invalid_phone")
    try:
        number = phonenumbers.parse(text, region or conf.phone_default_region())
    except phonenumbers.NumberParseException as err:
        raise ValidationError(INVALID_MESSAGE, code="invalid_phone") from err
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(INVALID_MESSAGE, code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone_number(e164: str) -> str:
    """Return the number with all but the country prefix and last two digits hidden.

    "+4915123456789" becomes "+49 ••• •••• ••89"; an empty value gives "".
    """
    if not e164:
        return ""
    prefix, tail = e164[:3], e164[-2:]
    hidden = len(e164) - len(prefix) - len(tail)
    return f"{prefix} {'•' * hidden}{tail}"
