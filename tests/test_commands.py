"""Tests of the management commands: createuser, createsuperuser, send_test_sms,
sipgate_check, purge_login_codes and demo_user.

Commands run through `call_command` with captured output; sipgate is faked with `responses`,
whose unmatched requests fail, so no test reaches the network.
"""

import base64
import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone
from responses import matchers

from accounts.management.commands import createuser as createuser_module
from accounts.management.commands import send_test_sms as send_test_sms_module
from accounts.models import LoginCode, User
from accounts.services.codes import login_code_issue
from accounts.sms.backends import sipgate as sipgate_backend

PHONE = "+4915123456789"
PASSWORD = "a long and unusual passphrase 42"
API = "https://api.sipgate.test/v2"
TOKEN_ID = "token-TEST01"
TOKEN = "6f1c1b8e-2f44-4c55-9a1e-0d3b8a1c2e4f"
BASIC_AUTH = "Basic " + base64.b64encode(f"{TOKEN_ID}:{TOKEN}".encode()).decode()
SIPGATE_SETTINGS = {
    "SMS_BACKEND": "accounts.sms.backends.sipgate.SmsBackend",
    "SIPGATE_API_URL": API,
    "SIPGATE_TOKEN_ID": TOKEN_ID,
    "SIPGATE_TOKEN": TOKEN,
    "SIPGATE_SMS_ID": "s0",
}


def run(*args: str, **options) -> str:
    """Run a command and return what it wrote to stdout."""
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def sipgate() -> Iterator[responses.RequestsMock]:
    """A fake sipgate under SIPGATE_SETTINGS; every registered call must be made."""
    sipgate_backend.shared_client.cache_clear()
    with (
        override_settings(**SIPGATE_SETTINGS),
        responses.RequestsMock(assert_all_requests_are_fired=True) as mock,
    ):
        yield mock
    sipgate_backend.shared_client.cache_clear()


def auth_matcher():
    return matchers.header_matcher({"Authorization": BASIC_AUTH})


def prompt_answers(monkeypatch, module, answers: list[str]) -> list[str]:
    """Make `module.getpass.getpass` return `answers` in turn; returns the prompts seen."""
    prompts: list[str] = []
    replies = iter(answers)

    def fake_getpass(prompt: str = "Password: ") -> str:
        prompts.append(prompt)
        return next(replies)

    monkeypatch.setattr(module.getpass, "getpass", fake_getpass)
    return prompts


# -- createuser -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_createuser_interactive_creates_a_user_whose_password_works(monkeypatch):
    prompts = prompt_answers(monkeypatch, createuser_module, [PASSWORD, PASSWORD])

    out = run("createuser", "Bob@Example.com", "--phone", "0151 23456789")

    assert "Created user bob@example.com." in out
    assert prompts == ["Password: ", "Password (again): "]
    user = User.objects.get()
    assert user.email == "bob@example.com"
    assert user.phone_number == PHONE
    assert user.check_password(PASSWORD)
    assert not user.check_password(PASSWORD + "x")
    assert user.is_active
    assert not user.is_staff
    assert not user.is_superuser


@pytest.mark.django_db
def test_createuser_mismatched_passwords_create_nothing(monkeypatch):
    prompt_answers(monkeypatch, createuser_module, [PASSWORD, PASSWORD + "!"])

    with pytest.raises(CommandError, match="The two passwords do not match"):
        run("createuser", "bob@example.com", "--phone", PHONE)

    assert not User.objects.exists()


@pytest.mark.django_db
def test_createuser_noinput_reads_password_from_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", PASSWORD)

    def no_prompt(*args, **kwargs):
        raise AssertionError("createuser --noinput must not prompt")

    monkeypatch.setattr(createuser_module.getpass, "getpass", no_prompt)

    out = run("createuser", "carol@example.com", "--phone", PHONE, "--noinput")

    assert "Created user carol@example.com." in out
    assert User.objects.get(email="carol@example.com").check_password(PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize("value", [None, ""])
def test_createuser_noinput_without_password_fails(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("DJANGO_USER_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("DJANGO_USER_PASSWORD", value)

    with pytest.raises(
        CommandError, match="With --noinput, set the password in DJANGO_USER_PASSWORD"
    ):
        run("createuser", "carol@example.com", "--phone", PHONE, "--no-input")

    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("123", "This password is too short"),
        ("12345678901", "This password is entirely numeric"),
        ("password123", "This password is too common"),
        ("veronica.longname", "The password is too similar to the email address"),
    ],
)
def test_createuser_rejects_passwords_the_validators_reject(monkeypatch, password, message):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", password)

    with pytest.raises(CommandError, match="Password rejected: ") as excinfo:
        run("createuser", "veronica.longname@example.com", "--phone", PHONE, "--noinput")

    assert message in str(excinfo.value)
    assert not User.objects.exists()


@pytest.mark.django_db
def test_createuser_interactive_rejects_weak_password(monkeypatch):
    prompt_answers(monkeypatch, createuser_module, ["123", "123"])

    with pytest.raises(CommandError, match="Password rejected: .*too short"):
        run("createuser", "bob@example.com", "--phone", PHONE)

    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["12345", "not a number", "+49 000", "", "+1" + "5" * 40])
def test_createuser_rejects_invalid_phone_number(monkeypatch, number):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", PASSWORD)

    with pytest.raises(CommandError) as excinfo:
        run("createuser", "bob@example.com", "--phone", number, "--noinput")

    assert str(excinfo.value) == (
        f"Invalid phone number {number!r}: Enter a valid phone number, for example "
        "+49 151 23456789."
    )
    assert not User.objects.exists()


@pytest.mark.django_db
def test_createuser_checks_phone_before_asking_for_the_password(monkeypatch):
    prompts = prompt_answers(monkeypatch, createuser_module, [PASSWORD, PASSWORD])

    with pytest.raises(CommandError, match="Invalid phone number"):
        run("createuser", "bob@example.com", "--phone", "12345")

    assert prompts == []


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["not-an-email", "bob@", "@example.com", "bob example.com"])
def test_createuser_rejects_invalid_email(monkeypatch, email):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", PASSWORD)

    with pytest.raises(CommandError) as excinfo:
        run("createuser", email, "--phone", PHONE, "--noinput")

    assert str(excinfo.value) == f"Invalid email address {email!r}."
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["", "   "])
def test_createuser_rejects_blank_email_with_command_error(monkeypatch, email):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", PASSWORD)

    with pytest.raises(CommandError, match="(?i)email"):
        run("createuser", email, "--phone", PHONE, "--noinput")

    assert not User.objects.exists()


@pytest.mark.parametrize(
    "email", ["alice@example.com", "ALICE@Example.COM", "  Alice@example.com "]
)
def test_createuser_refuses_existing_email_ignoring_case(monkeypatch, user, email):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", PASSWORD)
    prompts = prompt_answers(monkeypatch, createuser_module, [PASSWORD, PASSWORD])

    with pytest.raises(CommandError) as excinfo:
        run("createuser", email, "--phone", "+4915199999999")

    assert str(excinfo.value) == "A user with the email alice@example.com already exists."
    assert prompts == []
    assert list(User.objects.values_list("email", "phone_number")) == [
        ("alice@example.com", PHONE)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("flags", "role", "is_staff", "is_superuser"),
    [
        ([], "user", False, False),
        (["--staff"], "staff user", True, False),
        (["--superuser"], "superuser", True, True),
        (["--staff", "--superuser"], "superuser", True, True),
    ],
)
def test_createuser_flags(monkeypatch, flags, role, is_staff, is_superuser):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", PASSWORD)

    out = run("createuser", "dave@example.com", "--phone", PHONE, "--noinput", *flags)

    assert out.strip().endswith(f"Created {role} dave@example.com.")
    user = User.objects.get()
    assert (user.is_staff, user.is_superuser, user.is_active) == (is_staff, is_superuser, True)
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "number", ["+4915123456789", "+49 151 23456789", "0151 23456789", "0151-234 567 89"]
)
def test_createuser_stores_phone_in_e164(monkeypatch, number):
    monkeypatch.setenv("DJANGO_USER_PASSWORD", PASSWORD)

    run("createuser", "erin@example.com", "--phone", number, "--noinput")

    assert User.objects.get().phone_number == PHONE


@pytest.mark.django_db
def test_createuser_requires_phone():
    with pytest.raises(CommandError, match="--phone"):
        run("createuser", "erin@example.com", "--noinput")


# -- createsuperuser (Django's) ------------------------------------------------------------


class MockTty(io.StringIO):
    """A stdin that claims to be a terminal, so createsuperuser asks its questions."""

    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
def test_createsuperuser_noinput_from_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PHONE_NUMBER", "0151 23456789")

    out = run("createsuperuser", "--noinput")

    assert "Superuser created successfully." in out
    user = User.objects.get()
    assert user.email == "root@example.com"
    assert user.phone_number == "+4915123456789"
    assert user.is_staff
    assert user.is_superuser
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_createsuperuser_noinput_rejects_invalid_phone(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PHONE_NUMBER", "12345")

    with pytest.raises(CommandError, match="Enter a valid phone number"):
        run("createsuperuser", "--noinput")

    assert not User.objects.exists()


@pytest.mark.django_db
def test_createsuperuser_noinput_requires_phone(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.delenv("DJANGO_SUPERUSER_PHONE_NUMBER", raising=False)

    with pytest.raises(CommandError, match="You must use --phone_number with --noinput"):
        run("createsuperuser", "--noinput")

    assert not User.objects.exists()


def test_createsuperuser_noinput_refuses_existing_email_ignoring_case(monkeypatch, user):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ALICE@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PHONE_NUMBER", PHONE)

    with pytest.raises(CommandError, match="That email address is already taken"):
        run("createsuperuser", "--noinput")

    assert User.objects.count() == 1


@pytest.mark.django_db
def test_createsuperuser_interactive_asks_email_phone_and_password(monkeypatch):
    from django.contrib.auth.management.commands import createsuperuser

    inputs = iter(["Root@Example.com", "12345", "0151 23456789"])
    questions: list[str] = []

    def fake_input(prompt: str = "") -> str:
        questions.append(prompt)
        return next(inputs)

    monkeypatch.setattr("builtins.input", fake_input)
    prompt_answers(monkeypatch, createsuperuser, [PASSWORD, PASSWORD])
    err = io.StringIO()
    out = io.StringIO()

    call_command("createsuperuser", stdin=MockTty(), stdout=out, stderr=err)

    assert "Superuser created successfully." in out.getvalue()
    assert questions[0].startswith("Email address")
    assert questions[1:] == ["Phone number: ", "Phone number: "]
    assert "Enter a valid phone number" in err.getvalue()
    user = User.objects.get()
    assert user.email == "root@example.com"
    assert user.phone_number == "+4915123456789"
    assert user.is_staff
    assert user.is_superuser
    assert user.check_password(PASSWORD)


# -- send_test_sms --------------------------------------------------------------------------


@pytest.mark.django_db
def test_send_test_sms_locmem_sends_one_message_to_the_e164_number(sms_outbox):
    out = run("send_test_sms", "0151 23456789")

    assert out.strip().endswith(f"Sent a test SMS to {PHONE}.")
    assert len(sms_outbox) == 1
    assert sms_outbox[0].to == PHONE
    assert "Test message from twofa_site" in sms_outbox[0].text


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["12345", "hello", ""])
def test_send_test_sms_rejects_invalid_number(sms_outbox, number):
    with pytest.raises(CommandError) as excinfo:
        run("send_test_sms", number)

    assert str(excinfo.value).startswith(f"Invalid phone number {number!r}: ")
    assert sms_outbox == []


@pytest.mark.django_db
def test_send_test_sms_exits_non_zero_on_failure(capsys, sms_outbox):
    command = send_test_sms_module.Command()

    with pytest.raises(SystemExit) as excinfo:
        command.run_from_argv(["manage.py", "send_test_sms", "12345"])

    assert excinfo.value.code == 1
    assert "Invalid phone number '12345': " in capsys.readouterr().err
    assert sms_outbox == []


@pytest.mark.django_db
@override_settings(SMS_BACKEND="accounts.sms.backends.nowhere.SmsBackend")
def test_send_test_sms_reports_misconfigured_backend():
    with pytest.raises(CommandError, match="SMS backend misconfigured: .*cannot be imported"):
        run("send_test_sms", PHONE)


def sms_post(sipgate, status: int) -> None:
    sipgate.post(
        f"{API}/sessions/sms",
        status=status,
        match=[
            auth_matcher(),
            matchers.json_params_matcher(
                {
                    "smsId": "s0",
                    "recipient": PHONE,
                    "message": send_test_sms_module.TEST_TEXT.format(site="twofa_site"),
                }
            ),
        ],
    )


@pytest.mark.django_db
def test_send_test_sms_sipgate_success(sipgate):
    sms_post(sipgate, 204)

    out = run("send_test_sms", "0151 23456789")

    assert f"Sent a test SMS to {PHONE}." in out
    assert len(sipgate.calls) == 1
    assert TOKEN not in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (402, "balance is too low"),
        (401, "token id or token is wrong"),
        (403, "smsId is not usable"),
        (503, "try again later"),
    ],
)
def test_send_test_sms_sipgate_failure_names_status_and_hint(sipgate, status, hint):
    sms_post(sipgate, status)
    out = io.StringIO()
    err = io.StringIO()

    with pytest.raises(CommandError) as excinfo:
        call_command("send_test_sms", PHONE, stdout=out, stderr=err)

    message = str(excinfo.value)
    assert message.startswith(f"Sending failed (HTTP {status}): ")
    assert hint in message
    assert TOKEN not in message + out.getvalue() + err.getvalue()
    assert "Sent a test SMS" not in out.getvalue()


@pytest.mark.django_db
def test_send_test_sms_sipgate_402_exact_message(sipgate):
    sms_post(sipgate, 402)

    with pytest.raises(CommandError) as excinfo:
        run("send_test_sms", PHONE)

    assert str(excinfo.value) == (
        "Sending failed (HTTP 402): The sipgate account balance is too low to send SMS (HTTP 402)."
    )


@pytest.mark.django_db
def test_send_test_sms_sipgate_without_credentials(sipgate):
    with (
        override_settings(SIPGATE_TOKEN=""),
        pytest.raises(CommandError, match="SMS backend misconfigured: .*SIPGATE_TOKEN"),
    ):
        run("send_test_sms", PHONE)


@pytest.mark.django_db
def test_send_test_sms_sipgate_unreachable(sipgate):
    import requests

    sipgate.post(f"{API}/sessions/sms", body=requests.ReadTimeout("slow"))

    with pytest.raises(CommandError) as excinfo:
        run("send_test_sms", PHONE)

    assert str(excinfo.value) == "Sending failed (no answer): sipgate did not answer in time."


# -- sipgate_check --------------------------------------------------------------------------


def userinfo(sipgate, status: int = 200, **kwargs) -> None:
    if status == 200 and "json" not in kwargs and "body" not in kwargs:
        kwargs["json"] = {"sub": "w0", "domain": "sipgate.de", "locale": "de_DE"}
    sipgate.get(f"{API}/authorization/userinfo", status=status, match=[auth_matcher()], **kwargs)


def sms_list(sipgate, status: int = 200, **kwargs) -> None:
    sipgate.get(f"{API}/w0/sms", status=status, match=[auth_matcher()], **kwargs)


def test_sipgate_check_success(sipgate):
    userinfo(sipgate)
    sms_list(sipgate, json={"items": [{"id": "s0", "alias": "SMS", "callerId": "sipgate"}]})

    out = run("sipgate_check")

    assert out.splitlines() == [
        "Credentials work (web user w0).",
        "SIPGATE_SMS_ID s0 is an SMS extension.",
    ]
    assert [call.request.url for call in sipgate.calls] == [
        f"{API}/authorization/userinfo",
        f"{API}/w0/sms",
    ]
    assert all(call.request.method == "GET" for call in sipgate.calls)
    assert all(call.request.headers["Authorization"] == BASIC_AUTH for call in sipgate.calls)
    assert TOKEN not in out


def test_sipgate_check_finds_configured_sms_id_among_several(sipgate):
    userinfo(sipgate)
    sms_list(sipgate, json={"items": [{"id": "s0"}, {"id": "s3"}]})

    with override_settings(SIPGATE_SMS_ID="s3"):
        out = run("sipgate_check")

    assert "SIPGATE_SMS_ID s3 is an SMS extension." in out


def test_sipgate_check_sms_id_missing_from_extensions(sipgate):
    userinfo(sipgate)
    sms_list(sipgate, json={"items": [{"id": "s1"}, {"id": "s2"}]})
    out = io.StringIO()

    with pytest.raises(CommandError) as excinfo:
        call_command("sipgate_check", stdout=out)

    assert str(excinfo.value) == "SIPGATE_SMS_ID s0 is not among the extensions (s1, s2)."
    assert "Credentials work (web user w0)." in out.getvalue()


def test_sipgate_check_no_extensions_at_all(sipgate):
    userinfo(sipgate)
    sms_list(sipgate, json={"items": []})

    with pytest.raises(CommandError, match=re.escape("not among the extensions (none).")):
        run("sipgate_check")


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (403, "HTTP 403: This smsId is not usable"),
        (500, "HTTP 500: sipgate is unreachable or failing"),
    ],
)
def test_sipgate_check_sms_list_failure_only_warns(sipgate, status, detail):
    userinfo(sipgate)
    sms_list(sipgate, status=status)

    out = run("sipgate_check")

    lines = out.splitlines()
    assert lines[0] == "Credentials work (web user w0)."
    assert lines[1].startswith("Warning: could not list SMS extensions (")
    assert detail in lines[1]
    assert "SIPGATE_SMS_ID s0 may still work; try send_test_sms." in lines[1]
    assert TOKEN not in out


@pytest.mark.parametrize("body", ['["s0"]', "not json", '{"items": [["s0"]]}', '{"items": null}'])
def test_sipgate_check_unexpected_sms_list_body_only_warns(sipgate, body):
    userinfo(sipgate)
    sms_list(sipgate, body=body, content_type="application/json")

    out = run("sipgate_check")

    assert (
        "Warning: could not list SMS extensions (sipgate answered with an unexpected body)" in out
    )


def test_sipgate_check_userinfo_401(sipgate):
    userinfo(sipgate, status=401)

    with pytest.raises(CommandError) as excinfo:
        run("sipgate_check")

    assert str(excinfo.value) == (
        "Credentials check failed: HTTP 401: The sipgate token id or token is wrong (HTTP 401)."
    )
    assert TOKEN not in str(excinfo.value)
    assert len(sipgate.calls) == 1


@pytest.mark.parametrize("body", ["{}", "not json", '{"domain": "sipgate.de"}', "[]", "null"])
def test_sipgate_check_userinfo_unexpected_body(sipgate, body):
    userinfo(sipgate, body=body, content_type="application/json")

    with pytest.raises(CommandError) as excinfo:
        run("sipgate_check")

    assert str(excinfo.value) == (
        "Credentials check failed: sipgate answered with an unexpected body"
    )


def test_sipgate_check_userinfo_unreachable(sipgate):
    import requests

    sipgate.get(f"{API}/authorization/userinfo", body=requests.ReadTimeout("slow"))

    with pytest.raises(CommandError) as excinfo:
        run("sipgate_check")

    assert str(excinfo.value) == "Credentials check failed: sipgate did not answer in time."


@pytest.mark.parametrize("missing", ["SIPGATE_TOKEN", "SIPGATE_TOKEN_ID"])
def test_sipgate_check_missing_credentials(sipgate, missing):
    with override_settings(**{missing: ""}), pytest.raises(CommandError) as excinfo:
        run("sipgate_check")

    assert str(excinfo.value) == "SIPGATE_TOKEN_ID and SIPGATE_TOKEN must be set."
    assert len(sipgate.calls) == 0  # nothing was asked of sipgate


def test_sipgate_check_uses_configured_api_url(sipgate):
    other = "https://proxy.example.test/sipgate/v2/"
    sipgate.get(
        "https://proxy.example.test/sipgate/v2/authorization/userinfo",
        json={"sub": "w7"},
        match=[auth_matcher()],
    )
    sipgate.get(
        "https://proxy.example.test/sipgate/v2/w7/sms",
        json={"items": [{"id": "s0"}]},
        match=[auth_matcher()],
    )

    with override_settings(SIPGATE_API_URL=other):
        out = run("sipgate_check")

    assert "Credentials work (web user w7)." in out
    assert "SIPGATE_SMS_ID s0 is an SMS extension." in out


# -- purge_login_codes ----------------------------------------------------------------------


def issue_codes(user: User, specs: dict[str, tuple]) -> dict[str, LoginCode]:
    """Issue one code per spec (challenge, created_at, state), then set each state.

    Issuing voids the user's earlier open codes, so states are set after all are issued;
    `state` holds used_at, voided_at and expires_at overrides (used and voided default to
    unset).
    """
    rows = {}
    for name, (challenge, created_at, _) in specs.items():
        rows[name], _code = login_code_issue(user=user, challenge=challenge, now=created_at)
    for name, (_, _, state) in specs.items():
        LoginCode.objects.filter(pk=rows[name].pk).update(
            **{"used_at": None, "voided_at": None, **state}
        )
    return rows


def test_purge_login_codes_deletes_only_old_finished_codes(user):
    now = timezone.now()
    old = now - timedelta(hours=2)
    recent = now - timedelta(minutes=2)
    rows = issue_codes(
        user,
        {
            "used, old": ("c1", old, {"used_at": old + timedelta(minutes=1)}),
            "voided, old": ("c2", old, {"voided_at": old + timedelta(minutes=1)}),
            "expired, old": ("c3", old, {}),
            "used, just past the pending ttl": (
                "c4",
                now - timedelta(minutes=11),
                {"used_at": now - timedelta(minutes=10)},
            ),
            "open, old but unexpired": ("c5", old, {"expires_at": now + timedelta(minutes=5)}),
            "used, recent": ("c6", recent, {"used_at": recent}),
            "voided, recent": ("c7", recent, {"voided_at": recent}),
            "expired, recent": ("c8", now - timedelta(minutes=8), {}),
            "open, recent": ("c9", now, {}),
        },
    )
    assert LoginCode.objects.count() == 9

    out = run("purge_login_codes")

    assert out.splitlines()[0] == "Deleted 4 login codes."
    remaining = set(LoginCode.objects.values_list("pk", flat=True))
    kept = {name for name, row in rows.items() if row.pk in remaining}
    assert kept == {
        "open, old but unexpired",
        "used, recent",
        "voided, recent",
        "expired, recent",
        "open, recent",
    }


def test_purge_login_codes_real_issue_sequence(make_user):
    """Codes as the login flow leaves them: a later issue voids the user's earlier code."""
    now = timezone.now()
    alice = make_user("alice@example.com")
    bob = make_user("bob@example.com")
    login_code_issue(user=alice, challenge="a1", now=now - timedelta(hours=1))
    login_code_issue(user=alice, challenge="a2", now=now - timedelta(minutes=30))
    login_code_issue(user=bob, challenge="b1", now=now - timedelta(seconds=5))

    out = run("purge_login_codes")

    assert out.splitlines()[0] == "Deleted 2 login codes."
    assert list(LoginCode.objects.values_list("user__email", "challenge")) == [
        ("bob@example.com", "b1")
    ]


def test_purge_login_codes_singular_and_nothing(user):
    old = timezone.now() - timedelta(days=1)
    issue_codes(user, {"used": ("c1", old, {"used_at": old})})

    assert run("purge_login_codes").splitlines()[0] == "Deleted 1 login code."
    assert not LoginCode.objects.exists()
    assert run("purge_login_codes").splitlines()[0] == "Deleted 0 login codes."


@override_settings(PENDING_LOGIN_TTL=3600)
def test_purge_login_codes_follows_pending_login_ttl(user):
    now = timezone.now()
    issue_codes(
        user,
        {
            "recent": ("c1", now - timedelta(minutes=30), {"used_at": now}),
            "old": ("c2", now - timedelta(minutes=90), {"used_at": now}),
        },
    )

    assert run("purge_login_codes").splitlines()[0] == "Deleted 1 login code."
    assert list(LoginCode.objects.values_list("challenge", flat=True)) == ["c1"]


# -- demo_user ------------------------------------------------------------------------------

DEMO_OUTPUT = re.compile(r"^Demo staff user: demo@example\.com  password: (\S+)$", re.MULTILINE)


def demo_password(out: str) -> str:
    match = DEMO_OUTPUT.search(out)
    assert match, f"no password in output: {out!r}"
    return match.group(1)


@pytest.mark.django_db
def test_demo_user_refuses_with_debug_off():
    with pytest.raises(CommandError) as excinfo:
        run("demo_user")

    assert str(excinfo.value) == "demo_user is for development only (DEBUG is off)."
    assert not User.objects.exists()


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_user_creates_staff_user_with_printed_password():
    out = run("demo_user")

    password = demo_password(out)
    assert len(password) >= 12
    assert "Sign-in codes appear in this terminal" in out
    user = User.objects.get()
    assert user.email == "demo@example.com"
    assert user.is_staff
    assert user.is_superuser
    assert user.is_active
    assert user.phone_number == "+4915799912345"
    assert user.check_password(password)


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_user_twice_resets_the_password():
    first = demo_password(run("demo_user"))
    second = demo_password(run("demo_user"))

    assert first != second
    user = User.objects.get()
    assert user.check_password(second)
    assert not user.check_password(first)


@override_settings(DEBUG=True)
def test_demo_user_resets_an_existing_demo_account_ignoring_case(make_user):
    existing = make_user("demo@example.com", phone_number="+4915111111111")

    password = demo_password(run("demo_user"))

    user = User.objects.get()
    assert user.pk == existing.pk
    assert user.phone_number == "+4915111111111"
    assert user.check_password(password)
