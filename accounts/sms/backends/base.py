"""The interface every SMS backend implements."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SmsMessage:
    """One text to one recipient in E.164."""

    to: str
    text: str


class BaseSmsBackend:
    """Base class for SMS backends; subclasses override `send_message`.

    With `fail_silently`, delivery errors (SmsDeliveryError) are swallowed and reported as
    False; configuration errors always propagate.
    """

    def __init__(self, *, fail_silently: bool = False, **kwargs) -> None:
        self.fail_silently = fail_silently

    def send_message(self, message: SmsMessage) -> None:
        """Deliver `message`. Returns None; raises SmsDeliveryError when it was not sent."""
        raise NotImplementedError("subclasses of BaseSmsBackend must define send_message()")
