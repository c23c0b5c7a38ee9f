"""The production stack as separate OS processes: two gunicorn servers on one database.

Every step of a sign-in may reach a different server process (as behind a load balancer), so
all state that matters (the session, the codes, the limits) must live in the database. The
servers own their database (a SQLite file, or a throw-away PostgreSQL database when
DATABASE_URL names one); these tests use no pytest-django database and talk HTTP only. SMS go
to an in-process fake sipgate, from which the codes are read.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from accounts.exceptions import CodeAttemptsExceeded, ResendTooSoon
from tests.e2e.fake_sipgate import FakeSipgate
from tests.e2e.servers import (
    BrowserClient,
    FlowError,
    GunicornServer,
    UserSpec,
    create_users,
    free_port,
    phone_number,
    postgres_url_from_env,
    prepare_database,
    server_env,
    start_all,
    throwaway_database,
)

pytestmark = pytest.mark.multiprocess

PASSWORD = "correct horse battery staple"
LOAD_USERS = 32
# Short enough to wait out once; the real 60 s would make the cooldown test slow. Both
# cooldowns (per pending login and per phone number) get it.
RESEND_COOLDOWN = 5
SERVER_SETTINGS = {
    "LOGIN_CODE_RESEND_COOLDOWN": str(RESEND_COOLDOWN),
    "SMS_PHONE_COOLDOWN": str(RESEND_COOLDOWN),
    # Every test client comes from 127.0.0.1; the load test alone makes 32 sign-ins.
    "IP_PASSWORD_LIMIT": "1000",
    "IP_CODE_LIMIT": "1000",
    "LOG_LEVEL": "WARNING",
}
NAMES = ["flow", "attempts", "cooldown", "restart"] + [f"load{i:02d}" for i in range(LOAD_USERS)]
USERS = {
    name: UserSpec(email=f"{name}@example.com", phone=phone_number(i))
    for i, name in enumerate(NAMES)
}

POSTGRES_URL = postgres_url_from_env()
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(
            POSTGRES_URL is None,
            reason="DATABASE_URL is not PostgreSQL; `make test-postgres` runs this case",
        ),
    ),
]


@dataclass(frozen=True)
class Stack:
    """Two gunicorn processes (``a``, ``b``) on one database, and the fake sipgate."""

    backend: str
    fake: FakeSipgate
    a: GunicornServer
    b: GunicornServer

    def code(self, user: UserSpec) -> str:
        """Return the code of the newest SMS to ``user``."""
        return self.fake.last_code(user.phone)

    def sms_count(self, user: UserSpec) -> int:
        """Return how many SMS reached the fake for ``user``."""
        return sum(1 for sms in self.fake.messages if sms.recipient == user.phone)

    def output(self) -> str:
        """Return everything both servers wrote (access log, Django log) so far."""
        return self.a.output() + self.b.output()


@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Migrate a fresh database, create the users and run servers A and B on it."""
    backend: str = request.param
    tmp: Path = tmp_path_factory.mktemp(f"multiprocess-{backend}")
    postgres_url = POSTGRES_URL if backend == "postgresql" else None
    with (
        FakeSipgate() as fake,
        throwaway_database(tmp, postgres_url=postgres_url) as database_url,
    ):
        # STATIC_ROOT takes effect once the settings read it (until then: staticfiles/).
        extra = {**SERVER_SETTINGS, "STATIC_ROOT": str(tmp / "static")}
        env = server_env(database_url=database_url, sipgate_url=fake.base_url, extra=extra)
        prepare_database(env)
        create_users(env, list(USERS.values()), PASSWORD)
        servers = [
            GunicornServer(
                env, port=free_port(), log_path=tmp / f"{name}.log", workers=1, threads=4
            )
            for name in ("a", "b")
        ]
        try:
            start_all(servers)
            yield Stack(backend, fake, *servers)
        finally:
            for server in servers:
                server.stop()


def wrong_code(code: str) -> str:
    """Return a code of the same length that differs from ``code`` in every digit."""
    return "".join(str((int(digit) + 1) % 10) for digit in code)


def message_pattern(message: str, number: int) -> re.Pattern[str]:
    """Return a regex for ``message`` as rendered in HTML, with ``number`` as any number."""
    return re.compile(re.escape(html.escape(message)).replace(str(number), r"\d+"))


def assert_signed_out(browser: BrowserClient, *servers: GunicornServer) -> None:
    """Assert that ``/`` sends this browser to the login page on every one of ``servers``."""
    for server in servers:
        answer = browser.home(server.url)
        assert answer.status_code == 302, f"signed in on {server.url}"
        assert answer.headers["Location"].startswith("/accounts/login/")


def test_code_requested_on_a_verifies_on_b(stack: Stack) -> None:
    user = USERS["flow"]
    browser = BrowserClient()
    browser.password_step(stack.a.url, user.email, PASSWORD)

    home = browser.code_step(stack.b.url, stack.code(user))

    assert user.email in home.text
    assert user.email in browser.home(stack.a.url).text, "A must see the session B created"


def test_attempt_cap_holds_across_processes(stack: Stack) -> None:
    user = USERS["attempts"]
    browser = BrowserClient()
    browser.password_step(stack.a.url, user.email, PASSWORD)
    code = stack.code(user)

    answers = [browser.submit_code(s.url, wrong_code(code)) for s in (stack.a, stack.b, stack.a)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert html.escape(CodeAttemptsExceeded.message) in answers[-1].text
    for server in (stack.b, stack.a):
        answer = browser.submit_code(server.url, code)
        assert not answer.is_redirect, f"the right code passed on {server.url} after the cap"
    assert_signed_out(browser, stack.a, stack.b)


def test_resend_cooldown_holds_across_processes(stack: Stack) -> None:
    user = USERS["cooldown"]
    browser = BrowserClient()
    browser.password_step(stack.a.url, user.email, PASSWORD)
    time.sleep(RESEND_COOLDOWN + 0.5)  # the first code's cooldown runs out

    resent = browser.follow(browser.resend(stack.a.url), stack.a.url)
    refused = browser.follow(browser.resend(stack.b.url), stack.b.url)

    assert stack.sms_count(user) == 2, "one SMS for the password, one for the resend on A"
    assert not message_pattern(ResendTooSoon(7).message, 7).search(resent.text)
    assert message_pattern(ResendTooSoon(7).message, 7).search(refused.text), refused.text
    time.sleep(0.5)  # an SMS sent despite the refusal would have reached the fake by now
    assert stack.sms_count(user) == 2


def test_code_survives_a_server_restart(stack: Stack) -> None:
    user = USERS["restart"]
    browser = BrowserClient()
    browser.password_step(stack.b.url, user.email, PASSWORD)
    code = stack.code(user)

    stack.b.restart()
    home = browser.code_step(stack.b.url, code)

    assert user.email in home.text


@dataclass(frozen=True)
class Outcome:
    """One sign-in of the load test: the statuses seen, and the error if it failed."""

    statuses: list[int]
    error: str = ""


def test_concurrent_sign_ins_on_two_processes(stack: Stack) -> None:
    """32 users sign in at once, each step alternating between A and B: no 5xx, no
    "database is locked", everyone signed in."""
    start = threading.Barrier(LOAD_USERS, timeout=30)

    def sign_in(index: int) -> Outcome:
        user = USERS[f"load{index:02d}"]
        first, second = (stack.a, stack.b) if index % 2 else (stack.b, stack.a)
        browser = BrowserClient()
        start.wait()
        try:
            browser.sign_in(
                email=user.email,
                password=PASSWORD,
                read_code=lambda: stack.code(user),
                password_base=first.url,
                code_base=second.url,
            )
        except (FlowError, requests.RequestException) as err:
            return Outcome([s.status for s in browser.steps], f"{user.email}: {err}")
        return Outcome([s.status for s in browser.steps])

    with ThreadPoolExecutor(LOAD_USERS) as pool:
        outcomes = list(pool.map(sign_in, range(LOAD_USERS)))

    output = stack.output()
    server_errors = [s for o in outcomes for s in o.statuses if s >= 500]
    assert server_errors == [], output[-6000:]
    assert re.findall(r'" 5\d\d ', output) == [], "the access logs show a 5xx"
    assert "database is locked" not in output.lower()
    failures = [o.error for o in outcomes if o.error]
    assert not failures, "\n".join(failures)
