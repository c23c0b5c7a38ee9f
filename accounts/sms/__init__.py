"""Sending SMS through the backend chosen by the SMS_BACKEND setting.

Modelled on `django.core.mail`: `send_sms()` for callers, `get_backend()` to pick a class by
dotted path, and `outbox` for the locmem backend used in tests.
"""

from django.utils.module_loading import import_string

from .. import conf
from ..exceptions import SmsConfigurationError, SmsDeliveryError
from .backends.base import BaseSmsBackend, SmsMessage

outbox: list[SmsMessage] = []


def get_backend(path: str | None = None, **kwargs) -> BaseSmsBackend:
    """Return an instance of the backend at `path` (default: SMS_BACKEND).

    Raises SmsConfigurationError when the path cannot be imported or the backend cannot be
    configured.
    """
    dotted_path = path or conf.sms_backend_path()
    try:
        backend_class = import_string(dotted_path)
    except ImportError as err:
        raise SmsConfigurationError(f"SMS_BACKEND {dotted_path!r} cannot be imported.") from err
    return backend_class(**kwargs)


def send_sms(to: str, text: str, *, fail_silently: bool = False) -> bool:
    """Send `text` to the E.164 number `to` and return True when it was handed over.

    Raises SmsDeliveryError when sending failed (or returns False with `fail_silently`),
    and SmsConfigurationError when the backend is misconfigured, whatever `fail_silently` says.
    """
    backend = get_backend(fail_silently=fail_silently)
    try:
        backend.send_message(SmsMessage(to=to, text=text))
    except SmsDeliveryError:
        if fail_silently:
            return False
        raise
    return True
