"""The abuse limits as a person meets them in Chromium: a locked second factor, the resend and
per-phone cooldowns, the per-network password limit and the site-wide SMS budget.

As in test_browser.py, the live server sends its SMS with the real sipgate backend to the fake
sipgate on loopback, and every assertion about "no SMS" is made against what the fake got.
"""

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, Response, expect

from accounts.models import SmsSend, TotpDevice, User
from tests.conftest import DEFAULT_PASSWORD
from tests.e2e.conftest import DESKTOP, _open_page

pytestmark = pytest.mark.browser

LOGIN_PATH = "/accounts/login/"
VERIFY_PATH = "/accounts/login/verify/"
VERIFY_TOTP_PATH = "/accounts/login/verify/totp/"
PHONE = "+4915123456789"
STAFF_PHONE = "+4915199999999"

BAD_LOGIN = "Please enter a correct email address and password."
WRONG_CODE = "That code is not right. Please check the SMS and try again."
WRONG_APP_CODE = "That code is not right. Check the time on your phone and try again."
# LOGIN_LOCK_BASE is set to 900 s in the lock tests, so the first lock reads "15 minutes".
LOCKED = (
    "Sign-in to this account is temporarily blocked after too many wrong codes. "
    "Please try again in 15 minutes, or ask an administrator."
)
WAIT_TEXT = re.compile(r"You can request a new code in \d+ seconds?\.")
PHONE_COOLDOWN = re.compile(r"Please wait \d+ seconds? before requesting a new code\.")
# IP_LIMIT_WINDOW is 300 s: the wait reads "5 minutes" (or "N seconds" near the window's end).
NETWORK_LIMIT = re.compile(
    r"Too many attempts from your network\. Please wait \d+ (minutes|seconds?) and try again\."
)
BUDGET_REACHED = "We cannot send codes right now. Please try again later."


# -- a second browser ------------------------------------------------------------------------


@pytest.fixture
def other_page(request, browser, live_server, transactional_db, network_log) -> Iterator[Page]:
    """A desktop tab in a browser context of its own: another browser, with its own cookies.

    Its screenshot is saved with the suffix "-other".
    """
    yield from _open_page(request, browser, live_server, network_log, DESKTOP, "-other")


# -- helpers -------------------------------------------------------------------------------


def url_of(live_server, path: str) -> re.Pattern:
    """Match the full URL of `path` on the live server, exactly (query string included)."""
    return re.compile(re.escape(live_server.url + path) + "$")


def submit_password(page: Page, email: str, password: str = DEFAULT_PASSWORD, path=LOGIN_PATH):
    """Fill in step 1 and press Continue; where the browser lands is up to the caller."""
    page.goto(path)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Continue").click()


def sign_in_with_password(page: Page, live_server, email: str, path: str = LOGIN_PATH) -> None:
    """Pass step 1 and end on the code page."""
    submit_password(page, email, path=path)
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))


def code_field(page: Page) -> Locator:
    return page.get_by_label("Code from the SMS")


def enter_code(page: Page, code: str) -> None:
    code_field(page).fill(code)
    page.get_by_role("button", name="Sign in").click()


def resend_button(page: Page) -> Locator:
    return page.get_by_role("button", name="Send a new code")


def wrong(code: str, offset: int = 1) -> str:
    """Return a well-formed code that is not `code`."""
    return f"{(int(code) + offset) % 10 ** len(code):0{len(code)}d}"


def expect_home(page: Page, live_server, email: str) -> None:
    expect(page).to_have_url(url_of(live_server, "/"))
    expect(page.get_by_role("heading", name="You are signed in")).to_be_visible()
    expect(page.get_by_text(email, exact=True)).to_be_visible()


def expect_login_refused(page: Page, live_server, message: str | re.Pattern) -> None:
    """Step 1 answered with `message` as its one error; the browser is still on step 1."""
    expect(page).to_have_url(url_of(live_server, LOGIN_PATH))
    expect(page.get_by_role("alert")).to_have_text(message)
    if message != BAD_LOGIN:  # a limit's answer says nothing about the password
        expect(page.get_by_text(BAD_LOGIN)).to_have_count(0)


def is_password_post(response: Response) -> bool:
    return response.request.method == "POST" and urlsplit(response.url).path == LOGIN_PATH


def main_text(page: Page) -> str:
    """Return the words of the page's main area, with the whitespace evened out."""
    return " ".join(page.locator("main").inner_text().split())


# -- per account: the second factor locks ---------------------------------------------------


def test_wrong_codes_lock_the_account_and_say_when_to_try_again(
    page, live_server, sipgate_live, make_user, settings
):
    settings.LOGIN_LOCK_THRESHOLD = 3
    settings.LOGIN_LOCK_BASE = 900
    user = make_user("mallory@example.com")
    sign_in_with_password(page, live_server, user.email)
    code = sipgate_live.last_code(PHONE)

    for offset in (1, 2):
        enter_code(page, wrong(code, offset))
        expect(page.get_by_text(WRONG_CODE)).to_be_visible()
        expect(page.locator("#locked-message")).to_have_count(0)
    enter_code(page, wrong(code, 3))  # the third wrong code in a row locks the account

    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    expect(page.locator("#locked-message")).to_have_text(LOCKED)
    expect(page.get_by_text(WRONG_CODE)).to_have_count(0)
    user.refresh_from_db()
    assert user.is_code_locked()

    # The right code no longer helps: the lock voided it.
    enter_code(page, code)
    expect(page.locator("#locked-message")).to_have_text(LOCKED)
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))

    # A new sign-in with the right password is blocked with the same words, and no SMS goes.
    submit_password(page, user.email)
    expect_login_refused(page, live_server, LOCKED)
    assert len(sipgate_live.messages) == 1
    home = page.request.get("/", max_redirects=0)  # still nobody signed in
    assert (home.status, home.headers["location"]) == (302, LOGIN_PATH + "?next=/")


def test_locked_account_answers_a_wrong_password_with_the_same_block_message(
    page, live_server, sipgate_live, make_user, settings
):
    settings.LOGIN_LOCK_BASE = 900
    user = make_user("niaj@example.com")
    # Locked a moment ago by wrong codes, as in the test above.
    User.objects.filter(pk=user.pk).update(
        locked_until=timezone.now() + timedelta(seconds=900), code_lockouts=1
    )

    answers = []
    for password in ("not the password", DEFAULT_PASSWORD):
        with page.expect_response(is_password_post) as response:
            submit_password(page, user.email, password=password)
        expect_login_refused(page, live_server, LOCKED)
        answers.append((response.value.status, main_text(page)))

    # Nothing tells the wrong password from the right one: same status, same words.
    assert answers[0] == answers[1]
    assert answers[0][0] == 429
    assert sipgate_live.messages == []


def test_wrong_authenticator_codes_lock_the_account_with_one_block_message(
    page, live_server, sipgate_live, make_user, settings
):
    settings.LOGIN_LOCK_THRESHOLD = 3
    settings.LOGIN_LOCK_BASE = 900
    user = make_user("oscar@example.com")
    totp = pyotp.TOTP(pyotp.random_base32())
    TotpDevice.objects.create(user=user, secret=totp.secret, confirmed_at=timezone.now())
    submit_password(page, user.email)
    expect(page).to_have_url(url_of(live_server, VERIFY_TOTP_PATH))
    app_code = page.get_by_label("Code from your authenticator app")

    # Codes the app shows for none of the accepted time steps.
    now = time.time()
    accepted = {totp.at(now + drift) for drift in (-60, -30, 0, 30, 60)}
    wrong_codes = [
        c for c in ("111111", "222222", "333333", "444444", "555555") if c not in accepted
    ]
    for guess in wrong_codes[:2]:
        app_code.fill(guess)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text(WRONG_APP_CODE)).to_be_visible()
    app_code.fill(wrong_codes[2])
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(url_of(live_server, VERIFY_TOTP_PATH))
    expect(page.locator("#locked-message")).to_have_text(LOCKED)
    # One block message at the top of the page, like the SMS page, not two copies.
    expect(page.get_by_role("alert")).to_have_count(1, timeout=2_000)  # the page is loaded
    assert sipgate_live.messages == []  # an authenticator user is never texted unasked


# -- per pending login and per phone: cooldowns ---------------------------------------------


def test_resend_cooldown_and_per_phone_cooldown_across_browsers(
    page, other_page, live_server, sipgate_live, make_user, settings
):
    settings.LOGIN_CODE_RESEND_COOLDOWN = 60
    settings.SMS_PHONE_COOLDOWN = 60
    user = make_user("olivia@example.com")
    sign_in_with_password(page, live_server, user.email)
    assert len(sipgate_live.messages) == 1
    first_code = sipgate_live.last_code(PHONE)

    expect(resend_button(page)).to_be_disabled()
    expect(page.get_by_text(WAIT_TEXT)).to_be_visible()

    # Within the minute, the password step in another browser texts the phone no new code.
    sign_in_with_password(other_page, live_server, user.email)
    expect(other_page.get_by_role("status")).to_have_text(PHONE_COOLDOWN)
    assert len(sipgate_live.messages) == 1

    # The refused sign-in left the first browser's code as it was.
    expect(resend_button(page)).to_be_disabled()
    enter_code(page, first_code)
    expect_home(page, live_server, user.email)


# -- per client IP: the password step --------------------------------------------------------


def test_too_many_passwords_from_one_network_are_refused(
    page, live_server, sipgate_live, make_user, settings
):
    settings.IP_PASSWORD_LIMIT = 3
    alice = make_user("alice@example.com")
    bob = make_user("bob@example.com", phone_number="+4915122222222")

    for _ in range(3):
        submit_password(page, alice.email, password="guess")
        expect_login_refused(page, live_server, BAD_LOGIN)

    submit_password(page, alice.email, password="another guess")
    expect_login_refused(page, live_server, NETWORK_LIMIT)
    # The limit is the network's: a right password for another account waits as well.
    submit_password(page, bob.email)
    expect_login_refused(page, live_server, NETWORK_LIMIT)
    assert sipgate_live.messages == []


# -- whole site: the SMS budget -------------------------------------------------------------


def test_sms_budget_stops_codes_and_the_admin_shows_a_banner(
    page, other_page, live_server, sipgate_live, make_user, staff_user, settings
):
    settings.SMS_BUDGET_HOURLY = 3
    admin = other_page
    sign_in_with_password(admin, live_server, staff_user.email, path=LOGIN_PATH + "?next=/admin/")
    enter_code(admin, sipgate_live.last_code(STAFF_PHONE))
    expect(admin.get_by_role("heading", name="Site administration")).to_be_visible()
    expect(admin.locator("#sms-budget-banner")).to_have_count(0)

    # Two more SMS this hour (the staff sign-in's was the first) use up the budget.
    now = timezone.now()
    SmsSend.objects.bulk_create(
        SmsSend(phone_number=f"+491512345670{i}", created_at=now, delivered=True) for i in range(2)
    )
    assert SmsSend.objects.count() == 3

    user = make_user("peggy@example.com")
    sign_in_with_password(page, live_server, user.email)
    expect(page.get_by_role("status")).to_have_text(BUDGET_REACHED)
    assert [m.recipient for m in sipgate_live.messages] == [STAFF_PHONE]

    admin.reload()
    banner = admin.locator("#sms-budget-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("SMS budget reached: 3 of 3 this hour")
    expect(banner).to_contain_text("No login codes are sent until it resets.")
