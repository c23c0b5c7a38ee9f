"""A small, faithful fake of the parts of the sipgate REST API this project uses.

It follows /work/shared/sipgate-api.md: HTTP Basic auth with a personal access token,
``POST /v2/sessions/sms`` answering 204 or the documented error statuses,
``GET /v2/authorization/userinfo`` and ``GET /v2/{userId}/sms``.

Besides the in-process API (``FakeSipgate``) it serves a few unauthenticated ``/v2/_test``
endpoints so that other processes (a gunicorn-based test, a load generator) can read the
recorded messages and steer latency and outages:

- ``GET /v2/_test/messages`` -> 200 ``[{"smsId", "recipient", "message", "receivedAt"}]``
- ``DELETE /v2/_test/messages`` -> 204, forgets all messages
- ``GET /v2/_test/config`` -> 200 ``{"latency": float, "fail_status": int | null}``
- ``POST /v2/_test/config`` with ``{"latency": 0.3, "fail_status": 503 | null}`` (both
  optional) -> 200 with the new config, 400 on bad input

Run standalone: ``python -m tests.e2e.fake_sipgate --port 8999 [--latency 0.3]
[--print-messages]``; the first line on stdout is the base URL.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

DEFAULT_TOKEN_ID = "token-ABC123"
DEFAULT_TOKEN = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
DEFAULT_SMS_IDS = ("s0",)
DEFAULT_USER_ID = "w0"

MAX_SEND_AHEAD_SECONDS = 30 * 24 * 3600
# The contract only bounds sendAt in the future; a little slack in the past absorbs clock skew
# between a client that computes "now" and this server.
SEND_AT_PAST_SLACK_SECONDS = 60
MAX_BODY_BYTES = 1 << 20

_CODE_RE = re.compile(r"(?<!\d)\d{6,8}(?!\d)")
_USER_SMS_RE = re.compile(r"/v2/([^/]+)/sms")

Handler = Callable[["_Request"], "_Response"]


@dataclass(frozen=True)
class SentSms:
    """One SMS the fake accepted (answered 204)."""

    sms_id: str
    recipient: str
    message: str
    received_at: float
    send_at: int | None = None


@dataclass(frozen=True)
class SeenRequest:
    """One request to the sipgate API part of the fake (``/v2/_test`` is not logged).

    ``headers`` has lower-case names.
    """

    method: str
    path: str
    status: int
    headers: Mapping[str, str]
    body: bytes


class CodeNotFoundError(AssertionError, LookupError):
    """No recorded message (to the given recipient) carries a 6-8 digit code.

    It is an ``AssertionError`` so a test reads as failed rather than errored, and a
    ``LookupError`` so callers can catch it as a failed lookup.
    """


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class _Response:
    status: int
    payload: Any = None
    headers: tuple[tuple[str, str], ...] = field(default=())


def _error(status: int, reason: str) -> _Response:
    # sipgate's error bodies are undocumented; clients must only look at the status.
    return _Response(status, {"status": status, "message": reason})


def extract_code(message: str) -> str:
    """Return the first stand-alone run of 6 to 8 digits in ``message``.

    Raises ``CodeNotFoundError`` when there is none. Longer digit runs (such as a phone number)
    are not mistaken for a code.
    """
    match = _CODE_RE.search(message)
    if match is None:
        raise CodeNotFoundError(f"no 6-8 digit code in message {message!r}")
    return match.group(0)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _non_blank(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _valid_send_at(value: object, now: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return now - SEND_AT_PAST_SLACK_SECONDS <= value <= now + MAX_SEND_AHEAD_SECONDS


def _check_status(status: int) -> int:
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError(f"an injected failure must be an HTTP status 400-599, got {status!r}")
    return status


def _message_json(sms: SentSms) -> dict[str, Any]:
    return {
        "smsId": sms.sms_id,
        "recipient": sms.recipient,
        "message": sms.message,
        "receivedAt": sms.received_at,
    }


class FakeSipgate:
    """A threaded HTTP server on loopback that imitates the sipgate REST API.

    ``latency`` (seconds, settable at any time) delays every answer to
    ``POST /v2/sessions/sms``. An accepted message is recorded *before* that delay, as the
    real API may deliver an SMS whose answer the client never reads.
    """

    def __init__(
        self,
        *,
        token_id: str = DEFAULT_TOKEN_ID,
        token: str = DEFAULT_TOKEN,
        sms_ids: Sequence[str] = DEFAULT_SMS_IDS,
        user_id: str = DEFAULT_USER_ID,
        host: str = "127.0.0.1",
        port: int = 0,
        on_message: Callable[[SentSms], None] | None = None,
    ) -> None:
        self.token_id = token_id
        self.token = token
        self.sms_ids = tuple(sms_ids)
        self.user_id = user_id
        self.latency: float = 0.0
        self._host = host
        self._port = port
        self._on_message = on_message
        self._lock = threading.Lock()
        self._messages: list[SentSms] = []
        self._requests: list[SeenRequest] = []
        self._fail_next: list[int] = []
        self._fail_always: int | None = None
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeSipgate:
        """Bind and serve in a daemon thread. Returns ``self``; raises ``RuntimeError`` if
        already started and ``OSError`` if the port cannot be bound."""
        if self._server is not None:
            raise RuntimeError("FakeSipgate is already running")
        self._stopping.clear()
        server = _Server((self._host, self._port), _RequestHandler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-sipgate-{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut short pending latency sleeps and wait for the handler threads.
        Safe to call more than once; returns nothing."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeSipgate:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port; raises ``RuntimeError`` when not running."""
        if self._server is None:
            raise RuntimeError("FakeSipgate is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The API base, e.g. ``http://127.0.0.1:54321/v2``; raises ``RuntimeError`` when
        not running."""
        return f"http://{self._host}:{self.port}/v2"

    # -- inspection ------------------------------------------------------------------------

    @property
    def messages(self) -> list[SentSms]:
        """Return a snapshot of the accepted messages, oldest first."""
        with self._lock:
            return list(self._messages)

    @property
    def requests(self) -> list[SeenRequest]:
        """Return a snapshot of the API requests answered so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def requests_seen(self) -> int:
        """Return how many API requests (any path, any status) have been answered."""
        with self._lock:
            return len(self._requests)

    def clear(self) -> None:
        """Forget recorded messages and requests (injected failures stay as they are)."""
        with self._lock:
            self._messages.clear()
            self._requests.clear()

    def last_code(self, recipient: str | None = None) -> str:
        """Return the code from the newest message, or the newest one to ``recipient``.

        Raises ``CodeNotFoundError`` (an ``AssertionError`` and ``LookupError``) when there is
        no such message or it carries no 6-8 digit code.
        """
        messages = self.messages
        candidates = [m for m in messages if recipient is None or m.recipient == recipient]
        if not candidates:
            seen = sorted({m.recipient for m in messages})
            wanted = "any recipient" if recipient is None else repr(recipient)
            raise CodeNotFoundError(f"no SMS to {wanted}; recipients seen: {seen}")
        return extract_code(candidates[-1].message)

    # -- failure injection -----------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1) -> None:
        """Make the next ``count`` otherwise valid SMS posts answer ``status`` (400-599)
        without recording them. Raises ``ValueError`` on a bad status or negative count."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        status = _check_status(status)
        with self._lock:
            self._fail_next.extend([status] * count)

    def fail_always(self, status: int | None) -> None:
        """Start (``status`` 400-599) or end (``None``) an outage: every otherwise valid SMS
        post answers ``status`` without recording. Queued ``fail_next`` failures go first.
        Raises ``ValueError`` on a bad status."""
        checked = None if status is None else _check_status(status)
        with self._lock:
            self._fail_always = checked

    def _take_injected_failure(self) -> int | None:
        # Caller holds self._lock.
        if self._fail_next:
            return self._fail_next.pop(0)
        return self._fail_always

    # -- request handling ------------------------------------------------------------------

    def _handle(self, request: _Request) -> _Response:
        routes = self._routes_for(request.path)
        if routes is None:
            return _error(404, "no such path")
        handler = routes.get(request.method)
        if handler is None:
            allow = (("Allow", ", ".join(routes)),)
            return replace(_error(405, "method not allowed"), headers=allow)
        return handler(request)

    def _routes_for(self, path: str) -> dict[str, Handler] | None:
        fixed: dict[str, dict[str, Handler]] = {
            "/v2/sessions/sms": {"POST": self._post_sms},
            "/v2/authorization/userinfo": {"GET": self._authed(self._userinfo)},
            "/v2/_test/messages": {"GET": self._test_messages, "DELETE": self._test_clear},
            "/v2/_test/config": {"GET": self._test_config, "POST": self._test_configure},
        }
        if path in fixed:
            return fixed[path]
        if _USER_SMS_RE.fullmatch(path):
            return {"GET": self._authed(self._sms_extensions)}
        return None

    def _authed(self, handler: Handler) -> Handler:
        def wrapper(request: _Request) -> _Response:
            if not self._authorized(request.headers.get("authorization")):
                return _error(401, "unauthorized")
            return handler(request)

        return wrapper

    def _authorized(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, colon, password = decoded.partition(":")
        user_ok = hmac.compare_digest(user.encode(), self.token_id.encode())
        password_ok = hmac.compare_digest(password.encode(), self.token.encode())
        return bool(colon) and user_ok and password_ok

    def _post_sms(self, request: _Request) -> _Response:
        response = self._authed(self._send_sms)(request)
        self._stopping.wait(self.latency)
        return response

    def _send_sms(self, request: _Request) -> _Response:
        parsed = self._parse_sms(request)
        if isinstance(parsed, _Response):
            return parsed
        with self._lock:
            injected = self._take_injected_failure()
            if injected is None:
                self._messages.append(parsed)
        if injected is not None:
            return _error(injected, "injected failure")
        if self._on_message is not None:
            self._on_message(parsed)
        return _Response(204)

    def _parse_sms(self, request: _Request) -> SentSms | _Response:
        if _media_type(request.headers.get("content-type")) != "application/json":
            return _error(415, "Content-Type must be application/json")
        body = _json_object(request.body)
        if body is None:
            return _error(400, "body must be a JSON object")
        sms_id = body.get("smsId")
        if sms_id is None:
            return _error(500, "internal server error")
        for name in ("recipient", "message"):
            if not _non_blank(body.get(name)):
                return _error(400, f"{name} must not be empty")
        now = time.time()
        if "sendAt" in body and not _valid_send_at(body["sendAt"], now):
            return _error(400, "sendAt must be a Unix time at most 30 days ahead")
        if sms_id not in self.sms_ids:
            return _error(403, "no permission for this smsId")
        return SentSms(sms_id, body["recipient"], body["message"], now, body.get("sendAt"))

    def _userinfo(self, request: _Request) -> _Response:
        payload = {
            "sub": self.user_id,
            "domain": "sipgate.de",
            "masterSipId": "1234567",
            "locale": "de_DE",
        }
        return _Response(200, payload)

    def _sms_extensions(self, request: _Request) -> _Response:
        match = _USER_SMS_RE.fullmatch(request.path)
        if match is None or match.group(1) != self.user_id:
            return _error(403, "forbidden")
        items = [{"id": s, "alias": "SMS", "callerId": "sipgate"} for s in self.sms_ids]
        return _Response(200, {"items": items})

    def _test_messages(self, request: _Request) -> _Response:
        return _Response(200, [_message_json(m) for m in self.messages])

    def _test_clear(self, request: _Request) -> _Response:
        self.clear()
        return _Response(204)

    def _test_config(self, request: _Request) -> _Response:
        with self._lock:
            fail_status = self._fail_always
        return _Response(200, {"latency": self.latency, "fail_status": fail_status})

    def _test_configure(self, request: _Request) -> _Response:
        body = _json_object(request.body)
        if body is None or not set(body) <= {"latency", "fail_status"}:
            return _error(400, 'expected {"latency": seconds, "fail_status": status or null}')
        latency = body.get("latency", self.latency)
        if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
            return _error(400, "latency must be a non-negative number")
        if "fail_status" in body:
            try:
                self.fail_always(body["fail_status"])
            except ValueError as exc:
                return _error(400, str(exc))
        self.latency = float(latency)
        return self._test_config(request)

    def _record(self, request: _Request, status: int) -> None:
        if request.path.startswith("/v2/_test/"):
            return
        seen = SeenRequest(request.method, request.path, status, request.headers, request.body)
        with self._lock:
            self._requests.append(seen)


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 makes a burst of concurrent clients hit SYN
    # retransmits (seconds of delay) instead of queueing.
    request_queue_size = 128
    fake: FakeSipgate

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (read timeout) is normal here, not a server fault.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0: one request per connection, so no idle keep-alive connection can hold up
    # stop(); the socket timeout bounds a client that connects and never sends.
    protocol_version = "HTTP/1.0"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: tests and benchmarks do not want a line per request."""

    def _dispatch(self) -> None:
        body = self._read_body()
        request = _Request(
            method=self.command,
            path=urlsplit(self.path).path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body if body is not None else b"",
        )
        fake = self.server.fake
        response = _error(413, "body too large") if body is None else fake._handle(request)
        fake._record(request, response.status)
        self._write(response)

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _write(self, response: _Response) -> None:
        data = b"" if response.payload is None else json.dumps(response.payload).encode()
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


# -- command line ----------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.e2e.fake_sipgate",
        description="Serve a fake sipgate REST API on loopback until SIGINT/SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per SMS post")
    parser.add_argument("--fail-status", type=int, default=None, help="start in an outage")
    parser.add_argument("--token-id", default=DEFAULT_TOKEN_ID)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--user-id", default=DEFAULT_USER_ID)
    parser.add_argument(
        "--sms-id", action="append", dest="sms_ids", help="allowed smsId (repeatable)"
    )
    parser.add_argument(
        "--print-messages", action="store_true", help="print each SMS as a JSON line"
    )
    return parser.parse_args(argv)


def _print_message(sms: SentSms) -> None:
    print(json.dumps(_message_json(sms)), flush=True)


def _wait_for_termination() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop.wait(1.0):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake until SIGINT/SIGTERM. Prints the base URL as the first stdout line and
    returns the process exit status (0)."""
    args = _parse_args(argv)
    fake = FakeSipgate(
        token_id=args.token_id,
        token=args.token,
        sms_ids=args.sms_ids or DEFAULT_SMS_IDS,
        user_id=args.user_id,
        host=args.host,
        port=args.port,
        on_message=_print_message if args.print_messages else None,
    )
    fake.latency = args.latency
    fake.fail_always(args.fail_status)
    fake.start()
    print(fake.base_url, flush=True)
    print(
        f"fake sipgate: token id {fake.token_id!r}, token {fake.token!r}, "
        f"user {fake.user_id!r}, smsIds {list(fake.sms_ids)}",
        file=sys.stderr,
        flush=True,
    )
    try:
        _wait_for_termination()
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
