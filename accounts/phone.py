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
    """Return the number with all but the country code and last two digits hidden.

    "+4915123456789" becomes "+49 •••••••••89"; an empty value gives "".
    """
    if not e164:
        return ""
    try:
        prefix = f"+{phonenumbers.parse(e164).country_code}"
    except phonenumbers.NumberParseException:
        prefix = e164[:3]
    tail = e164[-2:]
    hidden = max(0, len(e164) - len(prefix) - len(tail))
    return f"{prefix} {'•' * hidden}{tail}"


SMS_NUMBER_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    # Some countries cannot tell the two apart; the country allow-list still applies.
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def validate_sms_destination(e164: str) -> None:
    """Raise ValidationError unless the E.164 number may receive codes.

    It must be in SMS_ALLOWED_COUNTRIES and a mobile number: fixed-line, premium-rate and
    shared-cost numbers are the classic targets of SMS pumping.
    """
    number = phonenumbers.parse(e164)
    allowed = conf.abuse_limits().allowed_countries
    if phonenumbers.region_code_for_number(number) not in allowed:
        raise ValidationError(
            f"Codes can only be sent to numbers from {', '.join(allowed)}.", code="country"
        )
    if phonenumbers.number_type(number) not in SMS_NUMBER_TYPES:
        raise ValidationError(
            "Enter a mobile number: landline, premium-rate and shared-cost numbers cannot "
            "receive codes.",
            code="not_mobile",
        )


def normalize_sms_number(raw: str, *, region: str | None = None) -> str:
    """Return `raw` in E.164 if it is a valid number that may receive codes.

    Raises ValidationError with a plain message otherwise.
    """
    e164 = normalize_phone_number(raw, region=region)
    validate_sms_destination(e164)
    return e164
