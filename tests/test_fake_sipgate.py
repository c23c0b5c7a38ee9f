"""Tests of the fake sipgate server (tests/e2e/fake_sipgate.py), over real HTTP on loopback.

No Django and no database: these only check that the fake keeps the sipgate contract in
/work/shared/sipgate-api.md, so that tests built on it mean something.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.fake_sipgate import (
    DEFAULT_TOKEN,
    DEFAULT_TOKEN_ID,
    CodeNotFoundError,
    FakeSipgate,
    SentSms,
    extract_code,
)

AUTH = (DEFAULT_TOKEN_ID, DEFAULT_TOKEN)
TIMEOUT = 10
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[FakeSipgate]:
    with FakeSipgate() as server:
        yield server


def sms_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "smsId": "s0",
        "recipient": "+4915799912345",
        "message": "Your login code: 123456",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def post_sms(fake: FakeSipgate, body: Any = None, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("auth", AUTH)
    timeout = kwargs.pop("timeout", TIMEOUT)
    if "data" not in kwargs:
        kwargs["json"] = sms_body() if body is None else body
    return requests.post(f"{fake.base_url}/sessions/sms", timeout=timeout, **kwargs)


# -- POST /v2/sessions/sms: success -------------------------------------------------------


def test_valid_sms_answers_204_with_empty_body_and_is_recorded(fake: FakeSipgate) -> None:
    before = time.time()

    response = post_sms(fake, headers={"Accept": "application/json"})

    assert response.status_code == 204
    assert response.content == b""
    [sms] = fake.messages
    assert (sms.sms_id, sms.recipient, sms.message) == (
        "s0",
        "+4915799912345",
        "Your login code: 123456",
    )
    assert sms.send_at is None
    assert before <= sms.received_at <= time.time()


def test_content_type_with_charset_and_explicit_bytes_is_accepted(fake: FakeSipgate) -> None:
    response = post_sms(
        fake,
        data=json.dumps(sms_body()).encode(),
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )

    assert response.status_code == 204
    assert len(fake.messages) == 1


def test_send_at_within_30_days_is_accepted_and_recorded(fake: FakeSipgate) -> None:
    send_at = int(time.time()) + 29 * 24 * 3600

    assert post_sms(fake, sms_body(sendAt=send_at)).status_code == 204
    assert fake.messages[0].send_at == send_at


def test_extra_sms_ids_are_honoured() -> None:
    with FakeSipgate(sms_ids=("s0", "s7")) as server:
        assert post_sms(server, sms_body(smsId="s7")).status_code == 204
        assert server.messages[0].sms_id == "s7"


# -- POST /v2/sessions/sms: errors ---------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        None,
        (DEFAULT_TOKEN_ID, "00000000-0000-4000-8000-000000000000"),
        ("token-XYZ999", DEFAULT_TOKEN),
        (DEFAULT_TOKEN_ID, ""),
    ],
    ids=["no-auth", "wrong-token", "wrong-token-id", "empty-token"],
)
def test_bad_credentials_answer_401(fake: FakeSipgate, auth: Any) -> None:
    assert post_sms(fake, auth=auth).status_code == 401
    assert fake.messages == []


@pytest.mark.parametrize(
    "authorization",
    ["Bearer " + DEFAULT_TOKEN, "Basic not-base64!", "Basic dG9rZW4tQUJDMTIz"],
    ids=["bearer", "garbage", "no-colon"],
)
def test_malformed_authorization_answers_401(fake: FakeSipgate, authorization: str) -> None:
    response = post_sms(fake, auth=None, headers={"Authorization": authorization})

    assert response.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}],
    ids=["missing", "text", "form"],
)
def test_wrong_content_type_answers_415(fake: FakeSipgate, headers: dict[str, str]) -> None:
    response = post_sms(fake, data=json.dumps(sms_body()).encode(), headers=headers)

    assert response.status_code == 415
    assert fake.messages == []


@pytest.mark.parametrize(
    "raw",
    [b"", b"{not json", b'["s0"]', b'"text"', b"\xff\xfe"],
    ids=["empty", "invalid", "array", "string", "not-utf8"],
)
def test_body_that_is_not_a_json_object_answers_400(fake: FakeSipgate, raw: bytes) -> None:
    response = post_sms(fake, data=raw, headers={"Content-Type": "application/json"})

    assert response.status_code == 400


def test_missing_sms_id_answers_500(fake: FakeSipgate) -> None:
    assert post_sms(fake, sms_body(smsId=...)).status_code == 500
    assert fake.messages == []


@pytest.mark.parametrize("name", ["recipient", "message"])
@pytest.mark.parametrize("value", [..., "", "   ", "\t\n", None, 42], ids=repr)
def test_missing_or_blank_field_answers_400(fake: FakeSipgate, name: str, value: Any) -> None:
    assert post_sms(fake, sms_body(**{name: value})).status_code == 400
    assert fake.messages == []


@pytest.mark.parametrize(
    "send_at",
    [
        "1700000000",
        1.5,
        True,
        None,
        lambda now: now + 31 * 24 * 3600,
        lambda now: now - 3600,
    ],
    ids=["string", "float", "bool", "null", "too-far-ahead", "past"],
)
def test_bad_send_at_answers_400(fake: FakeSipgate, send_at: Any) -> None:
    value = send_at(int(time.time())) if callable(send_at) else send_at

    assert post_sms(fake, sms_body(sendAt=value)).status_code == 400


def test_unknown_sms_id_answers_403(fake: FakeSipgate) -> None:
    assert post_sms(fake, sms_body(smsId="s1")).status_code == 403
    assert fake.messages == []


def test_credentials_are_checked_before_the_body(fake: FakeSipgate) -> None:
    response = post_sms(fake, data=b"junk", auth=None)

    assert response.status_code == 401


# -- routing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/sessions/sms", "POST"),
        ("PUT", "/sessions/sms", "POST"),
        ("POST", "/authorization/userinfo", "GET"),
        ("DELETE", "/w0/sms", "GET"),
    ],
)
def test_wrong_method_on_known_path_answers_405(
    fake: FakeSipgate, method: str, path: str, allow: str
) -> None:
    response = requests.request(method, fake.base_url + path, auth=AUTH, timeout=TIMEOUT)

    assert response.status_code == 405
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize(
    "url_path",
    ["/v2/sessions/sms/", "/v2/sessions/mms", "/v1/sessions/sms", "/", "/v2/w0/sms/s0/x"],
)
def test_unknown_path_answers_404(fake: FakeSipgate, url_path: str) -> None:
    url = f"http://127.0.0.1:{fake.port}{url_path}"

    assert requests.post(url, json=sms_body(), auth=AUTH, timeout=TIMEOUT).status_code == 404


# -- GET endpoints -------------------------------------------------------------------------


def test_userinfo_answers_the_documented_document(fake: FakeSipgate) -> None:
    response = requests.get(f"{fake.base_url}/authorization/userinfo", auth=AUTH, timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "sub": "w0",
        "domain": "sipgate.de",
        "masterSipId": "1234567",
        "locale": "de_DE",
    }


@pytest.mark.parametrize("path", ["/authorization/userinfo", "/w0/sms"])
def test_get_endpoints_need_credentials(fake: FakeSipgate, path: str) -> None:
    wrong = (DEFAULT_TOKEN_ID, "wrong")

    assert requests.get(fake.base_url + path, timeout=TIMEOUT).status_code == 401
    assert requests.get(fake.base_url + path, auth=wrong, timeout=TIMEOUT).status_code == 401


def test_sms_extensions_of_own_user_are_listed() -> None:
    with FakeSipgate(user_id="w7", sms_ids=("s0", "s3")) as server:
        response = requests.get(f"{server.base_url}/w7/sms", auth=AUTH, timeout=TIMEOUT)
        userinfo = requests.get(
            f"{server.base_url}/authorization/userinfo", auth=AUTH, timeout=TIMEOUT
        )

    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {"id": "s0", "alias": "SMS", "callerId": "sipgate"},
            {"id": "s3", "alias": "SMS", "callerId": "sipgate"},
        ]
    }
    assert userinfo.json()["sub"] == "w7"


def test_sms_extensions_of_another_user_answer_403(fake: FakeSipgate) -> None:
    response = requests.get(f"{fake.base_url}/w1/sms", auth=AUTH, timeout=TIMEOUT)

    assert response.status_code == 403


def test_custom_credentials_are_the_only_ones_accepted() -> None:
    with FakeSipgate(token_id="token-QQQ111", token="secret-token") as server:
        default = post_sms(server)
        custom = post_sms(server, auth=("token-QQQ111", "secret-token"))

    assert (default.status_code, custom.status_code) == (401, 204)


# -- latency and failure injection ---------------------------------------------------------


def test_latency_delays_the_sms_answer(fake: FakeSipgate) -> None:
    fake.latency = 0.3
    started = time.monotonic()

    response = post_sms(fake)

    assert response.status_code == 204
    assert time.monotonic() - started >= 0.3


def test_latency_applies_to_rejected_sms_posts_too(fake: FakeSipgate) -> None:
    fake.latency = 0.2
    started = time.monotonic()

    assert post_sms(fake, auth=None).status_code == 401
    assert time.monotonic() - started >= 0.2


def test_message_is_recorded_even_when_the_client_times_out(fake: FakeSipgate) -> None:
    # The real API may deliver an SMS whose answer never arrives; the fake must too, or a
    # "retry after read timeout" bug would go unnoticed.
    fake.latency = 5

    with pytest.raises(requests.ReadTimeout):
        post_sms(fake, timeout=(TIMEOUT, 0.2))

    assert len(fake.messages) == 1


def test_fail_next_fails_the_given_number_of_posts_without_recording(fake: FakeSipgate) -> None:
    fake.fail_next(503, count=2)

    statuses = [post_sms(fake).status_code for _ in range(3)]

    assert statuses == [503, 503, 204]
    assert len(fake.messages) == 1


def test_fail_next_defaults_to_one_failure(fake: FakeSipgate) -> None:
    fake.fail_next(402)

    assert [post_sms(fake).status_code for _ in range(2)] == [402, 204]


def test_invalid_requests_do_not_consume_an_injected_failure(fake: FakeSipgate) -> None:
    fake.fail_next(503)

    assert post_sms(fake, auth=None).status_code == 401
    assert post_sms(fake, sms_body(message=" ")).status_code == 400
    assert post_sms(fake).status_code == 503
    assert post_sms(fake).status_code == 204


def test_fail_always_is_an_outage_until_switched_off(fake: FakeSipgate) -> None:
    fake.fail_always(503)
    during = [post_sms(fake).status_code for _ in range(3)]
    fake.fail_always(None)
    after = post_sms(fake).status_code

    assert during == [503, 503, 503]
    assert after == 204
    assert len(fake.messages) == 1


def test_fail_next_goes_before_an_outage(fake: FakeSipgate) -> None:
    fake.fail_always(503)
    fake.fail_next(429)

    assert [post_sms(fake).status_code for _ in range(2)] == [429, 503]


def test_injected_failures_do_not_touch_other_endpoints(fake: FakeSipgate) -> None:
    fake.fail_always(503)

    response = requests.get(f"{fake.base_url}/authorization/userinfo", auth=AUTH, timeout=10)

    assert response.status_code == 200


@pytest.mark.parametrize("status", [200, 204, 399, 600, True])
def test_injected_status_must_be_an_error(fake: FakeSipgate, status: int) -> None:
    with pytest.raises(ValueError, match="400-599"):
        fake.fail_next(status)
    with pytest.raises(ValueError, match="400-599"):
        fake.fail_always(status)


def test_fail_next_rejects_a_negative_count(fake: FakeSipgate) -> None:
    with pytest.raises(ValueError, match="negative"):
        fake.fail_next(503, count=-1)


# -- request log, clear --------------------------------------------------------------------


def test_requests_are_logged_with_status_and_lower_case_headers(fake: FakeSipgate) -> None:
    post_sms(fake, headers={"Accept": "application/json"})
    post_sms(fake, auth=None)
    requests.get(f"{fake.base_url}/nope", timeout=TIMEOUT)

    log = fake.requests
    assert fake.requests_seen == 3
    assert [(r.method, r.path, r.status) for r in log] == [
        ("POST", "/v2/sessions/sms", 204),
        ("POST", "/v2/sessions/sms", 401),
        ("GET", "/v2/nope", 404),
    ]
    assert log[0].headers["accept"] == "application/json"
    assert log[0].headers["authorization"].startswith("Basic ")
    assert json.loads(log[0].body) == sms_body()


def test_clear_forgets_messages_and_requests(fake: FakeSipgate) -> None:
    post_sms(fake)

    fake.clear()

    assert fake.messages == []
    assert fake.requests_seen == 0


def test_messages_is_a_snapshot(fake: FakeSipgate) -> None:
    snapshot = fake.messages
    post_sms(fake)

    assert snapshot == []
    assert isinstance(fake.messages[0], SentSms)


# -- last_code ------------------------------------------------------------------------------


def test_last_code_reads_the_newest_message(fake: FakeSipgate) -> None:
    post_sms(fake, sms_body(message="Code 111111"))
    post_sms(fake, sms_body(message="Dein Code: 22222222. Gültig 5 Minuten."))

    assert fake.last_code() == "22222222"


def test_last_code_filters_by_recipient(fake: FakeSipgate) -> None:
    post_sms(fake, sms_body(recipient="+491111111111", message="Code 111111"))
    post_sms(fake, sms_body(recipient="+492222222222", message="Code 2222222"))

    assert fake.last_code("+491111111111") == "111111"
    assert fake.last_code("+492222222222") == "2222222"


def test_last_code_without_messages_raises_clearly(fake: FakeSipgate) -> None:
    with pytest.raises(CodeNotFoundError, match="no SMS to any recipient"):
        fake.last_code()


def test_last_code_for_unknown_recipient_names_the_seen_ones(fake: FakeSipgate) -> None:
    post_sms(fake)

    with pytest.raises(CodeNotFoundError, match=r"\+4915799912345") as caught:
        fake.last_code("+490000000000")

    assert isinstance(caught.value, AssertionError)
    assert isinstance(caught.value, LookupError)


def test_last_code_without_a_code_in_the_message_raises(fake: FakeSipgate) -> None:
    post_sms(fake, sms_body(message="Hello, no code here"))

    with pytest.raises(LookupError, match="no 6-8 digit code"):
        fake.last_code()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("123456", "123456"),
        ("Code: 1234567.", "1234567"),
        ("12345678 is your code", "12345678"),
        ("Call +4915799912345, code 654321", "654321"),
        ("ref 12345, code 000042", "000042"),
    ],
)
def test_extract_code_finds_stand_alone_6_to_8_digits(message: str, code: str) -> None:
    assert extract_code(message) == code


@pytest.mark.parametrize("message", ["12345", "123456789", "+4915799912345", "12 34 56", ""])
def test_extract_code_rejects_other_digit_runs(message: str) -> None:
    with pytest.raises(CodeNotFoundError):
        extract_code(message)


# -- /v2/_test endpoints -------------------------------------------------------------------


def test_test_messages_endpoint_lists_and_clears_without_auth(fake: FakeSipgate) -> None:
    post_sms(fake)
    url = f"{fake.base_url}/_test/messages"

    listed = requests.get(url, timeout=TIMEOUT)
    cleared = requests.delete(url, timeout=TIMEOUT)

    assert listed.status_code == 200
    [item] = listed.json()
    assert set(item) == {"smsId", "recipient", "message", "receivedAt"}
    assert (item["smsId"], item["recipient"], item["message"]) == (
        "s0",
        "+4915799912345",
        "Your login code: 123456",
    )
    assert isinstance(item["receivedAt"], float)
    assert cleared.status_code == 204
    assert fake.messages == []
    assert requests.get(url, timeout=TIMEOUT).json() == []


def test_test_config_sets_latency_and_outage(fake: FakeSipgate) -> None:
    url = f"{fake.base_url}/_test/config"

    set_outage = requests.post(url, json={"latency": 0.2, "fail_status": 503}, timeout=10)
    started = time.monotonic()
    during = post_sms(fake).status_code
    elapsed = time.monotonic() - started
    healed = requests.post(url, json={"fail_status": None}, timeout=TIMEOUT)

    assert set_outage.status_code == 200
    assert set_outage.json() == {"latency": 0.2, "fail_status": 503}
    assert during == 503
    assert elapsed >= 0.2
    assert healed.json() == {"latency": 0.2, "fail_status": None}
    assert requests.get(url, timeout=TIMEOUT).json() == healed.json()
    assert post_sms(fake).status_code == 204


@pytest.mark.parametrize(
    "body",
    [[], {"latency": -1}, {"latency": "fast"}, {"fail_status": 200}, {"speed": 1}],
    ids=["array", "negative", "string", "success-status", "unknown-key"],
)
def test_test_config_rejects_bad_input(fake: FakeSipgate, body: Any) -> None:
    response = requests.post(f"{fake.base_url}/_test/config", json=body, timeout=TIMEOUT)

    assert response.status_code == 400
    assert (fake.latency, post_sms(fake).status_code) == (0.0, 204)


def test_test_endpoints_are_not_in_the_request_log(fake: FakeSipgate) -> None:
    requests.get(f"{fake.base_url}/_test/messages", timeout=TIMEOUT)
    requests.get(f"{fake.base_url}/_test/config", timeout=TIMEOUT)

    assert fake.requests_seen == 0


# -- concurrency and lifecycle ------------------------------------------------------------


def test_many_concurrent_clients_are_all_served(fake: FakeSipgate) -> None:
    recipients = [f"+49151000{i:05d}" for i in range(60)]

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(lambda r: post_sms(fake, sms_body(recipient=r)), recipients))

    assert {s.status_code for s in statuses} == {204}
    assert sorted(m.recipient for m in fake.messages) == recipients


def test_requests_are_handled_in_parallel_and_stop_cuts_latency_short() -> None:
    fake = FakeSipgate().start()
    fake.latency = 60
    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(post_sms, fake) for _ in range(10)]
        # A sequential server would hold the second request for a minute behind the first.
        deadline = time.monotonic() + 10
        while len(fake.messages) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        recorded = len(fake.messages)
        started = time.monotonic()
        fake.stop()
        stop_took = time.monotonic() - started
        statuses = [f.result().status_code for f in futures]

    assert recorded == 10
    assert stop_took < 30
    assert statuses == [204] * 10


def test_base_url_needs_a_running_server() -> None:
    fake = FakeSipgate()

    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.base_url


def test_start_twice_raises_and_stop_is_idempotent() -> None:
    fake = FakeSipgate().start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            fake.start()
    finally:
        fake.stop()
    fake.stop()


def test_stop_closes_the_port() -> None:
    with FakeSipgate() as fake:
        url = f"{fake.base_url}/authorization/userinfo"
        assert fake.base_url.startswith("http://127.0.0.1:")
        assert requests.get(url, auth=AUTH, timeout=TIMEOUT).status_code == 200

    with pytest.raises(requests.ConnectionError):
        requests.get(url, auth=AUTH, timeout=TIMEOUT)


def test_on_message_callback_sees_each_accepted_message() -> None:
    seen: list[SentSms] = []
    with FakeSipgate(on_message=seen.append) as fake:
        post_sms(fake)
        post_sms(fake, sms_body(smsId="s9"))

    assert [m.message for m in seen] == ["Your login code: 123456"]


# -- command line -------------------------------------------------------------------------


def test_command_line_serves_prints_messages_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.fake_sipgate", "--port", "0", "--print-messages"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/v2")
        response = requests.post(
            f"{base_url}/sessions/sms", json=sms_body(), auth=AUTH, timeout=TIMEOUT
        )
        printed = json.loads(proc.stdout.readline())
        listed = requests.get(f"{base_url}/_test/messages", timeout=TIMEOUT).json()
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=TIMEOUT)

    assert response.status_code == 204
    assert printed["message"] == "Your login code: 123456"
    assert printed["recipient"] == "+4915799912345"
    assert listed == [printed]
    assert proc.returncode == 0
    assert DEFAULT_TOKEN_ID in stderr


def test_command_line_latency_flag_is_applied() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.fake_sipgate", "--port", "0", "--latency", "0.3"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        config = requests.get(f"{base_url}/_test/config", timeout=TIMEOUT).json()
    finally:
        proc.terminate()
        proc.communicate(timeout=TIMEOUT)

    assert config == {"latency": 0.3, "fail_status": None}
    assert proc.returncode == 0
