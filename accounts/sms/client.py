"""A small client for the parts of the sipgate REST API this site uses.

See ../shared/sipgate-api.md for the contract. Behaviour is mapped on the HTTP status only;
error bodies are never relied on, never logged and never shown.
"""

import logging
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from ..exceptions import (
    SmsAuthenticationError,
    SmsBalanceError,
    SmsDeliveryError,
    SmsPermissionError,
    SmsRequestError,
    SmsTemporaryError,
    SmsUnexpectedResponse,
)

logger = logging.getLogger(__name__)

ERRORS_BY_STATUS: dict[int, type[SmsDeliveryError]] = {
    400: SmsRequestError,
    401: SmsAuthenticationError,
    402: SmsBalanceError,
    403: SmsPermissionError,
    404: SmsRequestError,
    405: SmsRequestError,
    415: SmsRequestError,
    429: SmsTemporaryError,
}


def error_for_status(status: int) -> SmsDeliveryError:
    """Return the exception that stands for an unsuccessful HTTP status."""
    if status >= 500:
        return SmsTemporaryError(status=status)
    return ERRORS_BY_STATUS.get(status, SmsDeliveryError)(status=status)


def connection_never_made(err: requests.ConnectionError) -> bool:
    """Tell whether the request certainly never reached sipgate, so a retry cannot double-send.

    A read timeout or a connection dropped after sending may already have delivered the SMS.
    """
    if isinstance(err, requests.ConnectTimeout):
        return True
    reason = getattr(err.args[0] if err.args else None, "reason", None)
    return isinstance(reason, NewConnectionError)


class SipgateClient:
    """HTTP access to sipgate over one reused `requests.Session` (thread-safe for our use)."""

    def __init__(
        self,
        *,
        token_id: str,
        token: str,
        base_url: str = "https://api.sipgate.com/v2",
        connect_timeout: float = 3.05,
        read_timeout: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.session = session or requests.Session()
        self.session.auth = (token_id, token)
        self.session.headers.update(
            {"Accept": "application/json", "Content-Type": "application/json"}
        )

    def send_sms(self, *, sms_id: str, recipient: str, message: str) -> None:
        """Send one SMS now. Returns None on any 2xx.

        Raises a subclass of SmsDeliveryError that names the cause.
        """
        body = {"smsId": sms_id, "recipient": recipient, "message": message}
        self._request("POST", "/sessions/sms", json=body)

    def userinfo(self) -> dict[str, Any]:
        """Return the token's user info, e.g. {"sub": "w0", ...}.

        Raises SmsDeliveryError, or SmsUnexpectedResponse when there is no string "sub".
        """
        data = self._json("GET", "/authorization/userinfo")
        if not isinstance(data, dict) or not isinstance(data.get("sub"), str):
            raise SmsUnexpectedResponse()
        return data

    def sms_extensions(self, user_id: str) -> list[dict[str, Any]]:
        """Return the user's Web-SMS extensions ({"id": "s0", ...}).

        Raises SmsDeliveryError, or SmsUnexpectedResponse when "items" is not a list of objects.
        """
        data = self._json("GET", f"/{user_id}/sms")
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise SmsUnexpectedResponse()
        return items

    def _json(self, method: str, path: str) -> Any:
        try:
            return self._request(method, path).json()
        except ValueError as err:
            raise SmsUnexpectedResponse() from err

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self._send_with_one_connect_retry(method, self.base_url + path, **kwargs)
        if not 200 <= response.status_code < 300:
            raise error_for_status(response.status_code)
        return response

    def _send_with_one_connect_retry(
        self, method: str, url: str, **kwargs: Any
    ) -> requests.Response:
        for attempt in (1, 2):
            try:
                return self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.ConnectionError as err:
                if attempt == 1 and connection_never_made(err):
                    logger.info("sipgate connection failed; retrying once")
                    continue
                raise SmsTemporaryError("Could not reach sipgate (connection failed).") from err
            except requests.Timeout as err:
                raise SmsTemporaryError("sipgate did not answer in time.") from err
            except requests.RequestException as err:
                raise SmsTemporaryError("The request to sipgate failed.") from err
        raise AssertionError("unreachable")  # pragma: no cover
