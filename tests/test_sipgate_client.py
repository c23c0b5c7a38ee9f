"""Tests of the sipgate client (accounts/sms/client.py) and the sipgate SMS backend.

Every HTTP request is answered by `responses` with exact matchers; an unmatched or unfired
request fails the test, so nothing here reaches the network.
"""

import base64
import logging
from http.client import RemoteDisconnected

import pytest
import requests
import responses
from django.test import override_settings
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from accounts.exceptions import (
    SmsAuthenticationError,
    SmsBalanceError,
    SmsConfigurationError,
    SmsDeliveryError,
    SmsPermissionError,
    SmsRequestError,
    SmsTemporaryError,
    SmsUnexpectedResponse,
)
from accounts.sms import send_sms
from accounts.sms.backends.sipgate import shared_client
from accounts.sms.client import SipgateClient

BASE_URL = "https://api.sipgate.test/v2"
SEND_URL = BASE_URL + "/sessions/sms"
TOKEN_ID = "token-AB12CD"
TOKEN = "0f5c3f7e-1d2a-4b3c-8d4e-5f6a7b8c9d0e"
RECIPIENT = "+4915123456789"
MESSAGE = "Your twofa_site login code: 654321. Valid 5 minutes. Never share it."
SEND_BODY = {"smsId": "s0", "recipient": RECIPIENT, "message": MESSAGE}
BASIC_AUTH = "Basic " + base64.b64encode(f"{TOKEN_ID}:{TOKEN}".encode()).decode()
JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}

SIPGATE_BACKEND = "accounts.sms.backends.sipgate.SmsBackend"
BACKEND_URL = "https://sipgate.backend.test/v2"
BACKEND_SETTINGS = {
    "SMS_BACKEND": SIPGATE_BACKEND,
    "SIPGATE_API_URL": BACKEND_URL,
    "SIPGATE_TOKEN_ID": TOKEN_ID,
    "SIPGATE_TOKEN": TOKEN,
    "SIPGATE_SMS_ID": "s3",
    "SIPGATE_CONNECT_TIMEOUT": 2.5,
    "SIPGATE_READ_TIMEOUT": 7.0,
}


def auth_headers_matcher():
    return matchers.header_matcher({"Authorization": BASIC_AUTH, **JSON_HEADERS})


def send_matchers(body=None):
    return [matchers.json_params_matcher(body or SEND_BODY), auth_headers_matcher()]


def never_connected_error() -> requests.ConnectionError:
    """What requests raises when the TCP connection could not be opened at all."""
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.ConnectionError(MaxRetryError(None, "/v2/sessions/sms", reason=reason))


def dropped_after_sending_error() -> requests.ConnectionError:
    """What requests raises when the server hung up after the request was sent."""
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", RemoteDisconnected("closed without response"))
    )


def assert_no_secret(err: BaseException) -> None:
    for text in (str(err), repr(err), *map(str, err.args)):
        assert TOKEN not in text
        assert MESSAGE not in text
        assert "654321" not in text


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def client() -> SipgateClient:
    return SipgateClient(
        token_id=TOKEN_ID,
        token=TOKEN,
        base_url=BASE_URL,
        connect_timeout=1.5,
        read_timeout=4.0,
    )


def send(client: SipgateClient) -> None:
    client.send_sms(sms_id="s0", recipient=RECIPIENT, message=MESSAGE)


# --- sending -------------------------------------------------------------------------------


def test_send_sms_posts_the_exact_request(mocked, client):
    mocked.post(SEND_URL, status=204, match=send_matchers())

    assert send(client) is None

    assert len(mocked.calls) == 1
    request = mocked.calls[0].request
    assert request.method == "POST"
    assert request.url == SEND_URL
    assert request.req_kwargs["timeout"] == (1.5, 4.0)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_counts_as_sent(mocked, client, status):
    mocked.post(SEND_URL, status=status, body="", match=send_matchers())

    send(client)

    assert len(mocked.calls) == 1


def test_trailing_slash_of_the_base_url_is_ignored(mocked):
    mocked.post(SEND_URL, status=204, match=send_matchers())
    client = SipgateClient(token_id=TOKEN_ID, token=TOKEN, base_url=BASE_URL + "/")

    send(client)

    assert mocked.calls[0].request.url == SEND_URL


def test_default_timeouts_are_explicit(mocked):
    mocked.post(SEND_URL, status=204, match=send_matchers())
    client = SipgateClient(token_id=TOKEN_ID, token=TOKEN, base_url=BASE_URL)

    send(client)

    assert mocked.calls[0].request.req_kwargs["timeout"] == (3.05, 5.0)


@pytest.mark.parametrize(
    ("status", "error_class", "temporary"),
    [
        (400, SmsRequestError, False),
        (401, SmsAuthenticationError, False),
        (402, SmsBalanceError, False),
        (403, SmsPermissionError, False),
        (404, SmsRequestError, False),
        (405, SmsRequestError, False),
        (415, SmsRequestError, False),
        (418, SmsDeliveryError, False),
        (429, SmsTemporaryError, True),
        (500, SmsTemporaryError, True),
        (502, SmsTemporaryError, True),
        (503, SmsTemporaryError, True),
    ],
)
def test_error_status_maps_to_exception_with_status_and_hint(
    mocked, client, status, error_class, temporary
):
    # The body echoes the secrets, as a misbehaving proxy might; they must not leak.
    echo = {"error": "bad", "token": TOKEN, "message": MESSAGE}
    mocked.post(SEND_URL, status=status, json=echo, match=send_matchers())

    with pytest.raises(SmsDeliveryError) as info:
        send(client)

    err = info.value
    assert type(err) is error_class
    assert err.status == status
    assert err.temporary is temporary
    assert err.hint
    assert str(err) == f"HTTP {status}: {err.hint}"
    assert_no_secret(err)
    assert len(mocked.calls) == 1


def test_connection_never_made_is_retried_once_and_then_succeeds(mocked, client):
    mocked.post(SEND_URL, body=never_connected_error(), match=send_matchers())
    mocked.post(SEND_URL, status=204, match=send_matchers())

    send(client)

    assert len(mocked.calls) == 2


def test_connect_timeout_is_retried_once(mocked, client):
    mocked.post(SEND_URL, body=requests.ConnectTimeout("connect timed out"))
    mocked.post(SEND_URL, status=204, match=send_matchers())

    send(client)

    assert len(mocked.calls) == 2


def test_connection_never_made_twice_raises_temporary_error(mocked, client):
    mocked.post(SEND_URL, body=never_connected_error(), match=send_matchers())

    with pytest.raises(SmsTemporaryError) as info:
        send(client)

    assert len(mocked.calls) == 2
    assert info.value.status is None
    assert info.value.temporary is True
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    assert_no_secret(info.value)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(dropped_after_sending_error(), id="dropped-after-sending"),
        pytest.param(
            requests.ConnectionError(
                MaxRetryError(None, "/v2/sessions/sms", reason=ProtocolError("aborted"))
            ),
            id="max-retry-protocol-error",
        ),
        pytest.param(requests.ReadTimeout("read timed out"), id="read-timeout"),
    ],
)
def test_failure_after_the_request_may_have_arrived_is_not_retried(mocked, client, error):
    # Only one response is registered: a retry would hit it again and make a second call.
    mocked.post(SEND_URL, body=error, match=send_matchers())

    with pytest.raises(SmsTemporaryError) as info:
        send(client)

    assert len(mocked.calls) == 1
    assert info.value.status is None
    assert info.value.__cause__ is error
    assert_no_secret(info.value)


def test_logs_never_contain_token_or_message(mocked, client, caplog):
    mocked.post(SEND_URL, body=never_connected_error(), match=send_matchers())
    mocked.post(SEND_URL, status=503, match=send_matchers())
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SmsTemporaryError):
        send(client)

    assert TOKEN not in caplog.text
    assert MESSAGE not in caplog.text


def test_one_session_is_reused_across_calls(mocked, monkeypatch):
    created: list[requests.Session] = []

    class RecordingSession(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            self.requests_made = 0
            created.append(self)

        def request(self, *args, **kwargs):
            self.requests_made += 1
            return super().request(*args, **kwargs)

    monkeypatch.setattr(requests, "Session", RecordingSession)
    mocked.post(SEND_URL, status=204, match=send_matchers())
    mocked.get(BASE_URL + "/authorization/userinfo", json={"sub": "w0"})
    client = SipgateClient(token_id=TOKEN_ID, token=TOKEN, base_url=BASE_URL)

    send(client)
    send(client)
    client.userinfo()

    assert len(created) == 1
    assert created[0].requests_made == 3


# --- reading -------------------------------------------------------------------------------


def test_userinfo_returns_the_parsed_body(mocked, client):
    info = {"sub": "w0", "domain": "sipgate.de", "masterSipId": "1234567", "locale": "de_DE"}
    mocked.get(BASE_URL + "/authorization/userinfo", json=info, match=[auth_headers_matcher()])

    assert client.userinfo() == info
    assert mocked.calls[0].request.req_kwargs["timeout"] == (1.5, 4.0)


def test_userinfo_with_bad_credentials_raises_authentication_error(mocked, client):
    mocked.get(BASE_URL + "/authorization/userinfo", status=401)

    with pytest.raises(SmsAuthenticationError) as info:
        client.userinfo()

    assert info.value.status == 401


def test_sms_extensions_returns_the_items(mocked, client):
    items = [{"id": "s0", "alias": "SMS", "callerId": "+4915799912345"}]
    mocked.get(BASE_URL + "/w0/sms", json={"items": items}, match=[auth_headers_matcher()])

    assert client.sms_extensions("w0") == items


def test_sms_extensions_with_empty_items_is_empty(mocked, client):
    mocked.get(BASE_URL + "/w0/sms", json={"items": []})

    assert client.sms_extensions("w0") == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"json": {}}, id="no-items"),
        pytest.param({"json": {"items": "s0"}}, id="items-not-a-list"),
        pytest.param({"json": {"items": ["s0"]}}, id="items-not-objects"),
        pytest.param({"json": [{"id": "s0"}]}, id="not-an-object"),
        pytest.param({"body": "<html>proxy login</html>"}, id="not-json"),
    ],
)
def test_sms_extensions_with_unexpected_body_raises(mocked, client, body):
    mocked.get(BASE_URL + "/w0/sms", status=200, **body)

    with pytest.raises(SmsUnexpectedResponse) as info:
        client.sms_extensions("w0")

    assert info.value.status is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"json": {"domain": "sipgate.de"}}, id="no-sub"),
        pytest.param({"json": {"sub": 7}}, id="sub-not-a-string"),
        pytest.param({"json": ["w0"]}, id="not-an-object"),
        pytest.param({"body": "<html>proxy login</html>"}, id="not-json"),
    ],
)
def test_userinfo_with_unexpected_body_raises(mocked, client, body):
    mocked.get(BASE_URL + "/authorization/userinfo", status=200, **body)

    with pytest.raises(SmsUnexpectedResponse) as info:
        client.userinfo()

    assert info.value.status is None
    assert_no_secret(info.value)


def test_sms_extensions_forbidden_raises_permission_error(mocked, client):
    mocked.get(BASE_URL + "/w0/sms", status=403)

    with pytest.raises(SmsPermissionError) as info:
        client.sms_extensions("w0")

    assert info.value.status == 403


# --- the sipgate backend through send_sms --------------------------------------------------


@pytest.fixture
def sipgate_backend():
    shared_client.cache_clear()
    with override_settings(**BACKEND_SETTINGS):
        yield
    shared_client.cache_clear()


def backend_matchers():
    body = {"smsId": "s3", "recipient": RECIPIENT, "message": MESSAGE}
    return [
        matchers.json_params_matcher(body, strict_match=True),
        auth_headers_matcher(),
    ]


def test_backend_sends_the_exact_body(sipgate_backend, mocked):
    mocked.post(BACKEND_URL + "/sessions/sms", status=204, match=backend_matchers())

    assert send_sms(RECIPIENT, MESSAGE) is True

    request = mocked.calls[0].request
    assert request.url == BACKEND_URL + "/sessions/sms"
    assert request.req_kwargs["timeout"] == (2.5, 7.0)


def test_backend_reuses_one_session_for_several_messages(sipgate_backend, mocked, monkeypatch):
    created: list[requests.Session] = []

    class RecordingSession(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            created.append(self)

    monkeypatch.setattr(requests, "Session", RecordingSession)
    mocked.post(BACKEND_URL + "/sessions/sms", status=204, match=backend_matchers())

    send_sms(RECIPIENT, MESSAGE)
    send_sms(RECIPIENT, MESSAGE)

    assert len(mocked.calls) == 2
    assert len(created) == 1


@pytest.mark.parametrize("missing", ["SIPGATE_TOKEN_ID", "SIPGATE_TOKEN", "SIPGATE_SMS_ID"])
@pytest.mark.parametrize("fail_silently", [False, True])
def test_backend_without_credentials_raises_configuration_error(
    sipgate_backend, mocked, missing, fail_silently
):
    with override_settings(**{missing: ""}), pytest.raises(SmsConfigurationError):
        send_sms(RECIPIENT, MESSAGE, fail_silently=fail_silently)

    assert len(mocked.calls) == 0


def test_backend_fail_silently_turns_a_temporary_failure_into_false(sipgate_backend, mocked):
    mocked.post(BACKEND_URL + "/sessions/sms", status=503, match=backend_matchers())

    assert send_sms(RECIPIENT, MESSAGE, fail_silently=True) is False
    assert len(mocked.calls) == 1


def test_backend_without_fail_silently_raises_the_delivery_error(sipgate_backend, mocked):
    mocked.post(BACKEND_URL + "/sessions/sms", status=402, match=backend_matchers())

    with pytest.raises(SmsBalanceError) as info:
        send_sms(RECIPIENT, MESSAGE)

    assert info.value.status == 402
    assert_no_secret(info.value)
