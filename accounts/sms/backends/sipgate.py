"""Production backend: sends through sipgate's `POST /sessions/sms`."""

import functools

from ... import conf
from ...exceptions import SmsConfigurationError
from ..client import SipgateClient
from .base import BaseSmsBackend, SmsMessage


@functools.lru_cache(maxsize=8)
def shared_client(settings: conf.SipgateSettings) -> SipgateClient:
    """Return one client (one connection pool) per distinct set of sipgate settings."""
    return SipgateClient(
        token_id=settings.token_id,
        token=settings.token,
        base_url=settings.api_url,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
    )


class SmsBackend(BaseSmsBackend):
    """Raises SmsConfigurationError at construction when the credentials are missing."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.settings = conf.sipgate_settings()
        if not (self.settings.token_id and self.settings.token and self.settings.sms_id):
            raise SmsConfigurationError(
                "The sipgate SMS backend needs SIPGATE_TOKEN_ID, SIPGATE_TOKEN and SIPGATE_SMS_ID."
            )
        self.client = shared_client(self.settings)

    def send_message(self, message: SmsMessage) -> None:
        self.client.send_sms(
            sms_id=self.settings.sms_id, recipient=message.to, message=message.text
        )
