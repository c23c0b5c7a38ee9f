"""Shared fixtures: user factories, the SMS outbox, and helpers that walk the login flow."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts import sms
from accounts.models import User

DEFAULT_PASSWORD = "correct horse battery staple"
CODE_PATTERN = re.compile(r"login code: (\d{6,8})\.")


@pytest.fixture(autouse=True)
def sms_outbox():
    """The locmem SMS outbox, emptied before and after each test."""
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def make_user(db):
    """Factory: make_user(email=..., phone_number=..., password=..., **fields) -> User.

    The phone number counts as verified unless phone_verified=False.
    """
    counter = iter(range(1, 10_000))

    def make(
        email: str | None = None,
        *,
        phone_number: str = "+4915123456789",
        password: str = DEFAULT_PASSWORD,
        phone_verified: bool = True,
        **fields,
    ) -> User:
        email = email or f"user{next(counter)}@example.com"
        if phone_number and phone_verified:
            fields.setdefault("phone_verified_at", timezone.now())
        return User.objects.create_user(email, password, phone_number=phone_number, **fields)

    return make


@pytest.fixture
def user(make_user) -> User:
    return make_user("alice@example.com")


@pytest.fixture
def staff_user(make_user) -> User:
    return make_user(
        "staff@example.com", phone_number="+4915199999999", is_staff=True, is_superuser=True
    )


def code_from_outbox(outbox, index: int = -1) -> str:
    """Return the code in the SMS at `index` of the outbox (newest by default)."""
    match = CODE_PATTERN.search(outbox[index].text)
    assert match, f"no code in SMS: {outbox[index].text!r}"
    return match.group(1)


def sign_in_password(client: Client, email: str, password: str = DEFAULT_PASSWORD, next_url=""):
    """POST the password step; returns the response (not followed)."""
    data = {"username": email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


@pytest.fixture
def pending_client(client, user, sms_outbox):
    """A client that passed the password step for `user`; its code is in the outbox."""
    response = sign_in_password(client, user.email)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/verify/"
    return client
