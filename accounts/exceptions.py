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


def format_wait(seconds: int) -> str:
    """Return a wait such as "45 seconds", "3 minutes" or "2 hours" (rounded up)."""
    seconds = max(1, int(seconds))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{-(-minutes // 60)} hours"


class LimitReached(LoginError):
    """A limit refused the request. `limit` names it for the audit trail; `retry_after` is in
    seconds when known."""

    limit = "limit"

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


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


class ResendTooSoon(LimitReached):
    """A new code was asked for during the cooldown; `retry_after` is in seconds."""

    limit = "resend-cooldown"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Please wait {format_wait(retry_after)} before requesting a new code.",
            retry_after=retry_after,
        )


class SendLimitReached(LimitReached):
    limit = "sends-per-login"
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


class SmsUnexpectedResponse(SmsDeliveryError):
    hint = "sipgate answered with an unexpected body"


class SmsTemporaryError(SmsDeliveryError):
    temporary = True
    hint = "sipgate is unreachable or failing for now; try again later."


class SmsConfigurationError(ImproperlyConfigured):
    """The SMS backend cannot work with the current settings."""


class ClientRateLimited(LimitReached):
    def __init__(self, *, step: str, retry_after: int) -> None:
        self.limit = f"ip-{step}"
        super().__init__(
            f"Too many attempts from your network. Please wait {format_wait(retry_after)} "
            "and try again.",
            retry_after=retry_after,
        )


class PasswordThrottled(LimitReached):
    limit = "account-password"

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(
            "Too many failed sign-in attempts for this account. Please wait "
            f"{format_wait(retry_after)} before trying again.",
            retry_after=retry_after,
        )


class SecondFactorLocked(LimitReached):
    limit = "account-code-lock"

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(
            "Sign-in to this account is temporarily blocked after too many wrong codes. "
            f"Please try again in {format_wait(retry_after)}, or ask an administrator.",
            retry_after=retry_after,
        )


class PhoneSmsLimitReached(LimitReached):
    limit = "phone-daily"
    message = (
        "Too many codes were sent to this phone in the last 24 hours. Please try again later "
        "or ask an administrator."
    )


class SmsBudgetReached(LimitReached):
    message = "We cannot send codes right now. Please try again later."

    def __init__(self, *, period: str) -> None:
        self.limit = f"budget-{period}"
        super().__init__()


class DestinationNotAllowed(LimitReached):
    limit = "destination"
    message = "Codes cannot be sent to this phone number. Please ask an administrator."


class InvalidCredentials(LoginError):
    """Wrong email or wrong password; the form shows its own single message for both."""

    message = "Please enter a correct email address and password."
