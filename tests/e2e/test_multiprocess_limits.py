"""The abuse limits hold across two server processes on one database (SQLite and PostgreSQL).

Every limit keeps its counters in the database, so a client that sends each request to a
different server process (as behind a load balancer) must meet the same limit as one that
stays on one process. Two gunicorn servers A and B run the production stack on one database;
the requests of each scenario alternate between them, and the tests assert what a browser
sees (status, page text) and what the fake sipgate received.

Two groups of servers, because the limits are set when a server starts:

- ``limits``: small per-account, per-IP and per-phone limits. The servers trust 127.0.0.1 as
  a proxy, so each scenario gives its clients their own address (``X-Forwarded-For``) and
  the per-IP counts of one scenario do not spill into another.
- ``budget``: a site-wide budget of three SMS per hour, on a database of its own (the budget
  counts every SMS the site sent).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from accounts.exceptions import (
    CodeAttemptsExceeded,
    InvalidCredentials,
    PhoneSmsLimitReached,
    SmsBudgetReached,
)
from tests.e2e.fake_sipgate import FakeSipgate
from tests.e2e.servers import (
    BrowserClient,
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
WRONG_PASSWORD = "not the password"

# -- the limits each group of servers runs with --------------------------------------------

LOCK_THRESHOLD = 4  # wrong codes in a row (across sign-ins) before the second factor locks
LOCK_SECONDS = 5  # the first lock; short, so that the test can wait it out
# Password-step requests per client IP and window: the password-delay scenario needs five
# from one network (two wrong, two refused, one after the delay).
IP_PASSWORD_LIMIT = 5
IP_CODE_LIMIT = 3  # code-step requests per client IP and window
PASSWORD_THRESHOLD = 2  # wrong passwords (per account and client) before a delay
PASSWORD_DELAY_SECONDS = 5  # the first delay
# The lock scenario texts one phone three times (two sign-ins and one after the lock), so
# the per-phone limit must allow three.
SMS_PER_PHONE = 3
SMS_BUDGET_HOURLY = 3

COMMON_SETTINGS = {
    "LOG_LEVEL": "WARNING",
    # Nothing in this file is about the per-login resend cooldown.
    "LOGIN_CODE_RESEND_COOLDOWN": "1",
}
LIMITS_SETTINGS = {
    **COMMON_SETTINGS,
    "TRUSTED_PROXIES": "127.0.0.1",
    "LOGIN_LOCK_THRESHOLD": str(LOCK_THRESHOLD),
    "LOGIN_LOCK_BASE": str(LOCK_SECONDS),
    "IP_PASSWORD_LIMIT": str(IP_PASSWORD_LIMIT),
    "IP_CODE_LIMIT": str(IP_CODE_LIMIT),
    "PASSWORD_THROTTLE_THRESHOLD": str(PASSWORD_THRESHOLD),
    "PASSWORD_THROTTLE_BASE": str(PASSWORD_DELAY_SECONDS),
    "SMS_PER_PHONE_DAILY": str(SMS_PER_PHONE),
    "SMS_PHONE_COOLDOWN": "0",
}
BUDGET_SETTINGS = {
    **COMMON_SETTINGS,
    "SMS_BUDGET_HOURLY": str(SMS_BUDGET_HOURLY),
    "IP_PASSWORD_LIMIT": "1000",
    "IP_CODE_LIMIT": "1000",
}

LIMITS_USERS = {
    name: UserSpec(email=f"{name}@example.com", phone=phone_number(i))
    for i, name in enumerate(["locked", "ippass", "ipcode", "delayed", "phone"])
}
BUDGET_USERS = [
    UserSpec(email=f"budget{i}@example.com", phone=phone_number(100 + i)) for i in range(5)
]

# -- what the pages say (as rendered in HTML) -----------------------------------------------

LOCKED_TEXT = "Sign-in to this account is temporarily blocked"
IP_LIMIT_TEXT = "Too many attempts from your network"
PASSWORD_DELAY_TEXT = "Too many failed sign-in attempts for this account"
PHONE_LIMIT_TEXT = html.escape(PhoneSmsLimitReached.message)
BUDGET_TEXT = html.escape(SmsBudgetReached.message)
INVALID_LOGIN_TEXT = html.escape(InvalidCredentials.message)
ATTEMPTS_EXCEEDED_TEXT = html.escape(CodeAttemptsExceeded.message)
REFUSALS = (LOCKED_TEXT, IP_LIMIT_TEXT, PASSWORD_DELAY_TEXT, PHONE_LIMIT_TEXT, BUDGET_TEXT)

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

    def sms_count(self, user: UserSpec | None = None) -> int:
        """Return how many SMS reached the fake (for ``user``, or in all)."""
        return sum(1 for s in self.fake.messages if user is None or s.recipient == user.phone)

    def alternate(self, count: int) -> list[GunicornServer]:
        """Return ``count`` servers: A, B, A, B, ..."""
        return [(self.a, self.b)[i % 2] for i in range(count)]

    def assert_no_server_errors(self) -> None:
        """Assert that neither access log shows a 5xx and no database was locked."""
        output = self.a.output() + self.b.output()
        assert re.findall(r'" 5\d\d ', output) == [], output[-6000:]
        assert "database is locked" not in output.lower()


def run_stack(
    backend: str,
    tmp: Path,
    settings: dict[str, str],
    users: list[UserSpec],
) -> Iterator[Stack]:
    """Migrate a fresh database, create ``users`` and run servers A and B with ``settings``."""
    postgres_url = POSTGRES_URL if backend == "postgresql" else None
    with (
        FakeSipgate() as fake,
        throwaway_database(tmp, postgres_url=postgres_url) as database_url,
    ):
        extra = {**settings, "STATIC_ROOT": str(tmp / "static")}
        env = server_env(database_url=database_url, sipgate_url=fake.base_url, extra=extra)
        prepare_database(env)
        create_users(env, users, PASSWORD)
        servers = [
            GunicornServer(
                env, port=free_port(), log_path=tmp / f"{name}.log", workers=1, threads=2
            )
            for name in ("a", "b")
        ]
        try:
            start_all(servers)
            yield Stack(backend, fake, *servers)
        finally:
            for server in servers:
                server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database the servers share: "sqlite" or "postgresql"."""
    return request.param


@pytest.fixture(scope="module")
def limits(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Servers A and B with small per-account, per-IP and per-phone limits."""
    tmp = tmp_path_factory.mktemp(f"limits-{backend}")
    yield from run_stack(backend, tmp, LIMITS_SETTINGS, list(LIMITS_USERS.values()))


@pytest.fixture(scope="module")
def budget(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Servers A and B, on a database of their own, with a site budget of three SMS."""
    tmp = tmp_path_factory.mktemp(f"budget-{backend}")
    yield from run_stack(backend, tmp, BUDGET_SETTINGS, BUDGET_USERS)


# -- helpers ---------------------------------------------------------------------------------


def client(ip: str | None = None) -> BrowserClient:
    """Return a new browser; with ``ip``, the trusted proxy says it comes from there."""
    return BrowserClient(forwarded_for=ip)


def password_attempt(
    browser: BrowserClient, server: GunicornServer, email: str, password: str
) -> requests.Response:
    """Open the login page on ``server`` and send email and password; the raw answer."""
    browser.open_login(server.url)
    return browser.submit_password(server.url, email, password)


def wrong_code(code: str) -> str:
    """Return a code of the same length that differs from ``code`` in every digit."""
    return "".join(str((int(digit) + 1) % 10) for digit in code)


def refusals(page: requests.Response) -> list[str]:
    """Return which limit messages ``page`` shows."""
    return [text for text in REFUSALS if text in page.text]


def wait_until(moment: float) -> None:
    """Sleep until ``time.monotonic()`` reaches ``moment``."""
    time.sleep(max(0.0, moment - time.monotonic()))


def assert_refused(answer: requests.Response, text: str, *, status: int = 429) -> None:
    """Assert that ``answer`` has ``status`` and shows ``text``."""
    where = f"{answer.request.method} {answer.url}"
    assert answer.status_code == status, f"{where}: {answer.status_code}, not {status}"
    assert text in answer.text, f"{where} does not say {text!r}"


def assert_signed_out(browser: BrowserClient, *servers: GunicornServer) -> None:
    """Assert that ``/`` sends this browser to the login page on every one of ``servers``."""
    for server in servers:
        answer = browser.home(server.url)
        assert answer.status_code == 302, f"signed in on {server.url}"
        assert answer.headers["Location"].startswith("/accounts/login/")


# Time for an SMS sent despite a refusal to reach the fake before it is counted.
SETTLE_SECONDS = 0.5


# -- per account: the second-factor lock -----------------------------------------------------


def test_second_factor_lock_holds_across_processes(limits: Stack) -> None:
    """Wrong codes in a row, over two sign-ins from two networks and both processes, lock
    the account: both processes then refuse every password (right or wrong) with the same
    "temporarily blocked" page and send no SMS, until the lock runs out."""
    user = LIMITS_USERS["locked"]
    first = client("10.0.1.1")
    first.password_step(limits.a.url, user.email, PASSWORD)
    wrong = wrong_code(limits.code(user))
    answers = [first.submit_code(server.url, wrong) for server in limits.alternate(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert ATTEMPTS_EXCEEDED_TEXT in answers[-1].text
    assert not any(LOCKED_TEXT in a.text for a in answers), "locked before the threshold"

    second = client("10.0.1.2")
    second.password_step(limits.b.url, user.email, PASSWORD)
    assert limits.sms_count(user) == 2
    code = limits.code(user)
    locking = second.submit_code(limits.a.url, wrong_code(code))  # wrong code no. 4
    locked_at = time.monotonic()

    assert_refused(locking, LOCKED_TEXT)
    assert_refused(second.submit_code(limits.b.url, code), LOCKED_TEXT)
    resent = second.follow(second.resend(limits.b.url), limits.b.url)
    assert LOCKED_TEXT in resent.text
    owner = client("10.0.1.3")
    answers = [
        password_attempt(owner, limits.a, user.email, PASSWORD),
        password_attempt(owner, limits.b, user.email, PASSWORD),
        password_attempt(second, limits.a, user.email, WRONG_PASSWORD),
    ]
    seconds = time.monotonic() - locked_at
    assert seconds < LOCK_SECONDS, f"the checks took {seconds:.1f}s, longer than the lock"
    for answer in answers:
        assert_refused(answer, LOCKED_TEXT)
        assert INVALID_LOGIN_TEXT not in answer.text, "the lock page tells the password was wrong"
    time.sleep(SETTLE_SECONDS)
    assert limits.sms_count(user) == 2, "an SMS went out while the account was locked"

    wait_until(locked_at + LOCK_SECONDS + 0.5)
    home = owner.sign_in(
        email=user.email,
        password=PASSWORD,
        read_code=lambda: limits.code(user),
        password_base=limits.b.url,
        code_base=limits.a.url,
    )
    assert user.email in home.text
    assert limits.sms_count(user) == 3
    limits.assert_no_server_errors()


# -- per client IP: the password step and the code step -------------------------------------


def test_ip_password_limit_holds_across_processes(limits: Stack) -> None:
    """A network's password attempts are counted together on both processes: after the
    limit both refuse with 429, even a right password, and send no SMS; another network
    is not affected."""
    user = LIMITS_USERS["ippass"]
    browser = client("10.0.2.1")
    servers = limits.alternate(IP_PASSWORD_LIMIT + 2)

    allowed = [
        password_attempt(browser, server, f"nobody{i}@example.com", WRONG_PASSWORD)
        for i, server in enumerate(servers[:IP_PASSWORD_LIMIT])
    ]
    refused = [
        password_attempt(browser, server, user.email, PASSWORD)
        for server in servers[IP_PASSWORD_LIMIT:]
    ]

    for answer in allowed:
        assert answer.status_code == 200
        assert INVALID_LOGIN_TEXT in answer.text
        assert refusals(answer) == []
    for answer in refused:
        assert_refused(answer, IP_LIMIT_TEXT)
    time.sleep(SETTLE_SECONDS)
    assert limits.sms_count(user) == 0
    page = client("10.0.2.2").password_step(limits.a.url, user.email, PASSWORD)
    assert refusals(page) == []
    assert limits.sms_count(user) == 1
    limits.assert_no_server_errors()


def test_ip_code_limit_holds_across_processes(limits: Stack) -> None:
    """A network's code attempts are counted together on both processes: after the limit
    even the right code of a new sign-in is refused with 429 on both."""
    user = LIMITS_USERS["ipcode"]
    browser = client("10.0.4.1")
    browser.password_step(limits.a.url, user.email, PASSWORD)
    wrong = wrong_code(limits.code(user))
    answers = [
        browser.submit_code(server.url, wrong) for server in limits.alternate(IP_CODE_LIMIT)
    ]
    assert [a.status_code for a in answers] == [200] * IP_CODE_LIMIT
    assert not any(IP_LIMIT_TEXT in a.text for a in answers)

    browser.password_step(limits.b.url, user.email, PASSWORD)
    assert limits.sms_count(user) == 2
    for server in (limits.a, limits.b):
        assert_refused(browser.submit_code(server.url, limits.code(user)), IP_LIMIT_TEXT)
    assert_signed_out(browser, limits.a, limits.b)
    limits.assert_no_server_errors()


# -- per account and client: the password delay ----------------------------------------------


def test_password_delay_holds_across_processes(limits: Stack) -> None:
    """Wrong passwords for one account, alternating between the processes, lead to a delay
    that both processes enforce, even for the right password; the owner on another network
    is not held up, and after the delay the right password works again."""
    user = LIMITS_USERS["delayed"]
    guesser = client("10.0.3.1")
    guesses = [
        password_attempt(guesser, server, user.email, WRONG_PASSWORD)
        for server in limits.alternate(PASSWORD_THRESHOLD)
    ]
    delayed_at = time.monotonic()
    refused = [password_attempt(guesser, s, user.email, PASSWORD) for s in (limits.a, limits.b)]

    for answer in guesses:
        assert answer.status_code == 200
        assert INVALID_LOGIN_TEXT in answer.text
    seconds = time.monotonic() - delayed_at
    assert seconds < PASSWORD_DELAY_SECONDS, f"the checks took {seconds:.1f}s, past the delay"
    for answer in refused:
        assert_refused(answer, PASSWORD_DELAY_TEXT)
    time.sleep(SETTLE_SECONDS)
    assert limits.sms_count(user) == 0

    owner = client("10.0.3.2")
    owner.sign_in(
        email=user.email,
        password=PASSWORD,
        read_code=lambda: limits.code(user),
        password_base=limits.a.url,
        code_base=limits.b.url,
    )
    wait_until(delayed_at + PASSWORD_DELAY_SECONDS + 0.5)
    home = guesser.sign_in(
        email=user.email,
        password=PASSWORD,
        read_code=lambda: limits.code(user),
        password_base=limits.b.url,
        code_base=limits.a.url,
    )
    assert user.email in home.text
    assert limits.sms_count(user) == 2
    limits.assert_no_server_errors()


# -- per phone number: SMS per 24 hours ------------------------------------------------------


def test_phone_daily_limit_holds_across_processes(limits: Stack) -> None:
    """Sign-ins alternating between the processes text one phone until its daily limit;
    then both refuse to send (after the password and on "send a new code")."""
    user = LIMITS_USERS["phone"]
    ip = "10.0.5.1"
    for count, server in enumerate(limits.alternate(SMS_PER_PHONE), start=1):
        page = client(ip).password_step(server.url, user.email, PASSWORD)
        assert refusals(page) == [], f"sign-in {count} on {server.url}"
        assert limits.sms_count(user) == count

    browser = client(ip)
    refused = browser.password_step(limits.b.url, user.email, PASSWORD)
    resent = browser.follow(browser.resend(limits.a.url), limits.a.url)

    assert PHONE_LIMIT_TEXT in refused.text
    assert PHONE_LIMIT_TEXT in resent.text
    time.sleep(SETTLE_SECONDS)
    assert limits.sms_count(user) == SMS_PER_PHONE
    limits.assert_no_server_errors()


# -- the whole site: SMS per hour ------------------------------------------------------------


def test_site_budget_holds_across_processes(budget: Stack) -> None:
    """Different users, alternating between the processes, use up the hourly budget; the
    next right passwords on either process get "We cannot send codes right now", the fake
    got exactly the budget, both processes log an error, and codes already sent still work."""
    browsers = [client() for _ in BUDGET_USERS]
    senders = list(zip(BUDGET_USERS, browsers, budget.alternate(len(BUDGET_USERS)), strict=True))

    pages = [
        browser.password_step(server.url, user.email, PASSWORD)
        for user, browser, server in senders
    ]

    for (user, _browser, server), page in zip(senders, pages, strict=True):
        expected = [BUDGET_TEXT] if BUDGET_USERS.index(user) >= SMS_BUDGET_HOURLY else []
        assert refusals(page) == expected, f"{user.email} on {server.url}"
    time.sleep(SETTLE_SECONDS)
    assert budget.sms_count() == SMS_BUDGET_HOURLY
    assert [budget.sms_count(u) for u in BUDGET_USERS] == [1, 1, 1, 0, 0]
    for server in (budget.a, budget.b):
        assert "SMS budget reached" in server.output(), f"no error logged on {server.url}"
    first_user, first_browser, _server = senders[0]
    home = first_browser.code_step(budget.b.url, budget.code(first_user))
    assert first_user.email in home.text
    budget.assert_no_server_errors()
