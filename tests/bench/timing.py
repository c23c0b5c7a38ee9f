"""Password-step timing: an unknown email, a wrong password and a locked account must answer
in comparable time, so that timing tells nothing about which emails are registered."""

import statistics
import time
from collections.abc import Mapping, Sequence

from tests.e2e.servers import BrowserClient, run_manage

ROUNDS = 15
REQUEST_TIMEOUT = 30.0
LOCK_SCRIPT = (
    "from datetime import timedelta; from django.utils import timezone; "
    "from accounts.models import User; "
    "User.objects.filter(email={email!r}).update(locked_until=timezone.now() + timedelta(hours=1))"
)


def lock_account(env: Mapping[str, str], email: str) -> None:
    """Lock the second factor of ``email`` in the bench database for an hour."""
    run_manage(env, "shell", "-c", LOCK_SCRIPT.format(email=email))


def password_answer_seconds(base_url: str, email: str, password: str, client_ip: str) -> float:
    """Return how long one POST of the password step took, from a fresh browser."""
    browser = BrowserClient(timeout=REQUEST_TIMEOUT, forwarded_for=client_ip)
    try:
        browser.open_login(base_url)
        started = time.perf_counter()
        browser.submit_password(base_url, email, password)
        return time.perf_counter() - started
    finally:
        browser.close()


def password_timing(
    *, base_url: str, env: Mapping[str, str], known: str, locked: str, password: str
) -> list[str]:
    """Time the three answers, interleaved over ROUNDS rounds; return the report lines.

    Every request comes from its own client address, so no limit slows one case down.
    """
    lock_account(env, locked)
    cases = {
        "unknown email": ("nobody-{n}@example.com", "whatever it is"),
        "wrong password": (known, "not the password"),
        "locked account": (locked, password),
    }
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for n in range(ROUNDS):
        for i, (name, (email, typed)) in enumerate(cases.items()):
            ip = f"10.200.{n}.{i + 1}"
            seconds[name].append(password_answer_seconds(base_url, email.format(n=n), typed, ip))
    medians = {name: statistics.median(values) * 1000 for name, values in seconds.items()}
    fastest = min(medians.values())
    lines = [f"password step, median of {ROUNDS} (ms) and ratio to the fastest case:"]
    lines += [f"  {name:<16} {ms:7.1f}  {ms / fastest:5.2f}" for name, ms in medians.items()]
    return lines


def print_password_timing(lines: Sequence[str]) -> None:
    print("\n" + "\n".join(lines))
