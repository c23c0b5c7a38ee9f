"""Tests of accounts.sms: send_sms(), get_backend() and the console and locmem backends."""

import dataclasses
import io

import pytest
from django.test import override_settings

from accounts import sms
from accounts.exceptions import SmsConfigurationError, SmsDeliveryError, SmsTemporaryError
from accounts.sms import get_backend, send_sms
from accounts.sms.backends.base import BaseSmsBackend, SmsMessage
from accounts.sms.backends.console import SmsBackend as ConsoleBackend

CONSOLE = "accounts.sms.backends.console.SmsBackend"
LOCMEM = "accounts.sms.backends.locmem.SmsBackend"
RECIPIENT = "+4915123456789"
TEXT = "Your twofa_site login code: 123456. Valid 5 minutes. Never share it."


class FailingBackend(BaseSmsBackend):
    """Test backend whose every send fails with a delivery error."""

    def send_message(self, message: SmsMessage) -> None:
        raise SmsTemporaryError(status=503)


class MisconfiguredOnSendBackend(BaseSmsBackend):
    """Test backend that discovers a configuration problem while sending."""

    def send_message(self, message: SmsMessage) -> None:
        raise SmsConfigurationError("misconfigured")


FAILING = f"{__name__}.FailingBackend"
MISCONFIGURED = f"{__name__}.MisconfiguredOnSendBackend"


def test_console_backend_writes_recipient_and_text_to_its_stream():
    stream = io.StringIO()

    ConsoleBackend(stream=stream).send_message(SmsMessage(to=RECIPIENT, text=TEXT))

    output = stream.getvalue()
    assert RECIPIENT in output
    assert TEXT in output


@override_settings(SMS_BACKEND=CONSOLE)
def test_send_sms_with_console_backend_prints_to_stdout(capsys):
    assert send_sms(RECIPIENT, TEXT) is True

    output = capsys.readouterr().out
    assert RECIPIENT in output
    assert TEXT in output
    assert sms.outbox == []


def test_locmem_backend_is_the_test_default_and_fills_the_outbox(sms_outbox):
    assert send_sms(RECIPIENT, TEXT) is True
    assert send_sms("+4915199999999", "second") is True

    assert sms_outbox is sms.outbox
    assert sms_outbox == [
        SmsMessage(to=RECIPIENT, text=TEXT),
        SmsMessage(to="+4915199999999", text="second"),
    ]


def test_outbox_starts_empty_for_each_test(sms_outbox):
    # The previous test left two messages; the autouse fixture must have removed them.
    assert sms_outbox == []
    send_sms(RECIPIENT, TEXT)
    assert len(sms_outbox) == 1


def test_get_backend_uses_the_setting_and_passes_options():
    with override_settings(SMS_BACKEND=CONSOLE):
        backend = get_backend(fail_silently=True)

    assert isinstance(backend, ConsoleBackend)
    assert backend.fail_silently is True


def test_get_backend_with_explicit_path_ignores_the_setting():
    backend = get_backend(CONSOLE)

    assert isinstance(backend, ConsoleBackend)
    assert backend.fail_silently is False


@pytest.mark.parametrize(
    "path",
    [
        "accounts.sms.backends.nonexistent.SmsBackend",
        "accounts.sms.backends.locmem.NoSuchClass",
        "not_a_dotted_path",
    ],
)
def test_get_backend_with_bad_path_raises_configuration_error(path):
    with pytest.raises(SmsConfigurationError):
        get_backend(path)


@pytest.mark.parametrize("fail_silently", [False, True])
def test_send_sms_with_unimportable_backend_raises_even_when_silent(fail_silently):
    with (
        override_settings(SMS_BACKEND="accounts.sms.backends.nope.SmsBackend"),
        pytest.raises(SmsConfigurationError),
    ):
        send_sms(RECIPIENT, TEXT, fail_silently=fail_silently)


@override_settings(SMS_BACKEND=FAILING)
def test_send_sms_raises_delivery_error_by_default():
    with pytest.raises(SmsDeliveryError) as info:
        send_sms(RECIPIENT, TEXT)

    assert info.value.status == 503


@override_settings(SMS_BACKEND=FAILING)
def test_send_sms_fail_silently_returns_false_on_delivery_error():
    assert send_sms(RECIPIENT, TEXT, fail_silently=True) is False


@override_settings(SMS_BACKEND=MISCONFIGURED)
def test_fail_silently_never_hides_a_configuration_error_raised_while_sending():
    with pytest.raises(SmsConfigurationError):
        send_sms(RECIPIENT, TEXT, fail_silently=True)


def test_configuration_error_is_not_a_delivery_error():
    assert not issubclass(SmsConfigurationError, SmsDeliveryError)


def test_base_backend_requires_send_message():
    with pytest.raises(NotImplementedError):
        BaseSmsBackend().send_message(SmsMessage(to=RECIPIENT, text=TEXT))


def test_sms_message_is_immutable():
    message = SmsMessage(to=RECIPIENT, text=TEXT)

    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]
