"""Errors raised by the accounts app.

Three separate families:
- `LoginError` and its subclasses: a user-facing reason why a code step did not pass. Each
  carries a plain message that is safe to show on the page.
- `SmsDeliveryError` and its subclasses: sending an SMS failed. They carry the HTTP status
  (if any) and a hint for operators, and never the message text.
- `SmsConfigurationError`: the SMS backend is set up wrongly. It deliberately does not derive
  from `SmsDeliveryError`, so that `fail_silently` can never hide a misconfiguration.
"""

from django.core.exceptions import ImproperlyConfigured


class LoginError(Exception):
    """A code step did not pass; `message` is safe to show to the user."""

    message = "Something went wrong. Please start again."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class PendingLoginMissing(LoginError):
    message = "Your sign-in has expired. Please sign in again."


class CodeInvalid(LoginError):
    message = "That code is not right. Please check the SMS and try again."


class CodeExpired(LoginError):
    message = "This code has expired. Please request a new code."


class CodeAttemptsExceeded(LoginError):
    message = "Too many wrong codes. Please request a new code."


class NoActiveCode(LoginError):
    message = "There is no valid code for this sign-in. Please request a new code."


class ResendTooSoon(LoginError):
    """A new code was asked for during the cooldown; `retry_after` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"Please wait {retry_after} seconds before requesting a new code.")


class SendLimitReached(LoginError):
    message = "You have asked for too many codes. Please sign in again to get a new one."


class PhoneNumberMissing(LoginError):
    message = "Your account has no phone number. Please ask an administrator to add one."


class SmsDeliveryError(Exception):
    """Sending an SMS failed.

    `status` is the provider's HTTP status, or None when no answer came. `hint` says what an
    operator should check. `temporary` tells whether trying again later may succeed.
    """

    temporary = False
    hint = "The SMS provider refused the message."

    def __init__(self, hint: str | None = None, *, status: int | None = None) -> None:
        self.status = status
        if hint:
            self.hint = hint
        super().__init__(self.hint if status is None else f"HTTP {status}: {self.hint}")


class SmsAuthenticationError(SmsDeliveryError):
    hint = "The sipgate token id or token is wrong (HTTP 401)."


class SmsBalanceError(SmsDeliveryError):
    hint = "The sipgate account balance is too low to send SMS (HTTP 402)."


class SmsPermissionError(SmsDeliveryError):
    hint = (
        "This smsId is not usable with the token: wrong extension, Web-SMS not booked, "
        "or the token lacks the sessions:sms:write scope (HTTP 403)."
    )


class SmsRequestError(SmsDeliveryError):
    hint = "sipgate rejected the request as malformed; this is a bug in the client."


class SmsTemporaryError(SmsDeliveryError):
    temporary = True
    hint = "sipgate is unreachable or failing for now; try again later."


class SmsConfigurationError(ImproperlyConfigured):
    """The SMS backend cannot work with the current settings."""
