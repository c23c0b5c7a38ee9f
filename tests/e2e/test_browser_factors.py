"""The life of a second factor in Chromium: enrolling a phone, adding an authenticator app,
recovery codes, remembered browsers, and getting back in after the phone is lost.

As in test_browser.py, the live server sends its SMS with the real sipgate backend to the fake
sipgate on loopback; the tests read the codes there, and compute authenticator codes with
pyotp from the key the page shows, as a person's app would.
"""

import re
import time
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Locator, Page, expect

from accounts.models import User
from accounts.phone import mask_phone_number
from tests.conftest import DEFAULT_PASSWORD
from tests.e2e.conftest import DESKTOP, _open_page

pytestmark = pytest.mark.browser

LOGIN_PATH = "/accounts/login/"
VERIFY_PATH = "/accounts/login/verify/"
VERIFY_TOTP_PATH = "/accounts/login/verify/totp/"
VERIFY_RECOVERY_PATH = "/accounts/login/verify/recovery/"
ENROLL_PATH = "/accounts/enroll/"
SECURITY_PATH = "/accounts/security/"
REAUTH_PATH = "/accounts/security/confirm/"
PHONE = "+4915123456789"
STAFF_PHONE = "+4915199999999"

WRONG_CODE = "That code is not right. Please check the SMS and try again."
NOT_MOBILE = (
    "Enter a mobile number: landline, premium-rate and shared-cost numbers cannot receive codes."
)
REAUTH_CODE_SENT = "We sent a code to your phone."
TOTP_ON = "Your authenticator app is set up."
RECOVERY_REFUSED = "That recovery code is not right or was already used."
REMEMBER = "Don't ask for a code on this browser for 30 days"
FORGOTTEN = "That browser will be asked for a code again."
RECOVERY_CODE = re.compile(r"^[a-z2-7]{4}(-[a-z2-7]{4}){3}$")


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


def submit_password(page: Page, email: str, path: str = LOGIN_PATH) -> None:
    """Fill in step 1 with the right password and press Continue."""
    page.goto(path)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Continue").click()


def enter_code(page: Page, code: str, label: str = "Code from the SMS") -> None:
    page.get_by_label(label).fill(code)
    page.get_by_role("button", name="Sign in").click()


def expect_home(page: Page, live_server, email: str) -> None:
    expect(page).to_have_url(url_of(live_server, "/"))
    expect(page.get_by_role("heading", name="You are signed in")).to_be_visible()
    expect(page.get_by_text(email, exact=True)).to_be_visible()


def sign_in_by_sms(page: Page, live_server, fake, email: str, phone: str = PHONE) -> None:
    """The everyday sign-in: password, then the code texted to `phone`."""
    sent = len(fake.messages)
    submit_password(page, email)
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    assert len(fake.messages) == sent + 1
    enter_code(page, fake.last_code(phone))
    expect_home(page, live_server, email)


def sign_out(page: Page, live_server) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(url_of(live_server, LOGIN_PATH))


def open_security_page(page: Page, live_server) -> None:
    """From the home page, follow "Security settings"."""
    page.goto("/")
    page.get_by_role("link", name="Security settings").click()
    expect(page).to_have_url(url_of(live_server, SECURITY_PATH))
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()


def factor_value(page: Page, name: str) -> Locator:
    """The <dd> next to the <dt> `name` in "Ways you sign in" on the security page."""
    return page.locator(f"dl.facts dt:text-is('{name}') + dd")


def remembered_browsers(page: Page) -> Locator:
    """The entries of "Remembered browsers" on the security page."""
    return page.locator("section[aria-labelledby='browsers-title'] li")


def reauthenticate(page: Page, fake, phone: str = PHONE) -> None:
    """On "Confirm it is you": have a code texted, then type the password and that code."""
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    sent = len(fake.messages)
    page.get_by_role("button", name="Text me a code").click()
    expect(page.get_by_role("status")).to_have_text(REAUTH_CODE_SENT)
    assert len(fake.messages) == sent + 1
    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    page.get_by_label("Code from your authenticator app or from the SMS").fill(
        fake.last_code(phone)
    )
    page.get_by_role("button", name="Continue").click()


def enroll_phone(page: Page, live_server, fake, email: str, typed_number: str) -> None:
    """Sign in as a user without a verified phone: password, number, the code sent to it."""
    submit_password(page, email)
    expect(page).to_have_url(url_of(live_server, ENROLL_PATH))
    expect(page.get_by_role("heading", name="Set up your phone")).to_be_visible()
    assert fake.messages == []  # nothing is texted before there is a number to text
    page.get_by_label("Mobile phone number").fill(typed_number)
    page.get_by_role("button", name="Text me a code").click()
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    expect(page.get_by_text(mask_phone_number(PHONE))).to_be_visible()
    enter_code(page, fake.last_code(PHONE))
    expect_home(page, live_server, email)


def set_up_authenticator(page: Page, live_server, fake) -> pyotp.TOTP:
    """From the security page: "Set up", re-authenticate by SMS, scan (read) the key, turn
    the app on. Returns the app: a TOTP with the key the page showed."""
    factor_value(page, "Authenticator app").get_by_role("link", name="Set up").click()
    expect(page).to_have_url(url_of(live_server, REAUTH_PATH + "?next=/accounts/security/totp/"))
    reauthenticate(page, fake)

    expect(page.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
    qr = page.locator("figure.qr > svg")  # inline SVG, drawn by the server
    expect(qr).to_be_visible()
    assert qr.bounding_box()["width"] >= 100
    secret = page.locator("#totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", secret), secret
    app = pyotp.TOTP(secret.replace(" ", ""))
    page.get_by_label("Code from your authenticator app").fill(app.now())
    page.get_by_role("button", name="Turn on").click()

    expect(page).to_have_url(url_of(live_server, SECURITY_PATH))
    expect(page.get_by_role("status")).to_have_text(TOTP_ON)
    expect(factor_value(page, "Authenticator app")).to_contain_text("On")
    return app


def make_recovery_codes(page: Page, live_server, fake, *, reauth: bool = True) -> list[str]:
    """From the security page: make 10 recovery codes (after re-authenticating) and return
    them as the page shows them."""
    factor_value(page, "Recovery codes").get_by_role("link", name="Create codes").click()
    if reauth:
        reauthenticate(page, fake)
    expect(page).to_have_url(url_of(live_server, "/accounts/security/recovery/"))
    page.get_by_role("button", name="Make 10 new codes").click()
    codes = page.locator("#recovery-codes code")
    expect(codes).to_have_count(10)
    shown = codes.all_inner_texts()
    assert all(RECOVERY_CODE.match(code) for code in shown), shown
    assert len(set(shown)) == 10
    expect(page.get_by_role("link", name="Download as a text file")).to_be_visible()
    return shown


def sign_in_with_recovery_code(page: Page, code: str) -> None:
    """On a verify page, follow "Use a recovery code" and type `code`."""
    page.get_by_role("link", name="Use a recovery code").click()
    expect(page.get_by_role("heading", name="Use a recovery code")).to_be_visible()
    enter_code(page, code, label="Recovery code")


# -- enrollment -----------------------------------------------------------------------------


def test_user_without_a_phone_enrolls_a_mobile_number_at_first_sign_in(
    page, live_server, sipgate_live
):
    user = User.objects.create_user("quentin@example.com", DEFAULT_PASSWORD, phone_number="")
    submit_password(page, user.email)
    expect(page).to_have_url(url_of(live_server, ENROLL_PATH))
    expect(page.get_by_role("heading", name="Set up your phone")).to_be_visible()
    assert sipgate_live.messages == []

    # A Berlin landline cannot receive codes; nothing is sent.
    page.get_by_label("Mobile phone number").fill("030 12345678")
    page.get_by_role("button", name="Text me a code").click()
    expect(page.get_by_text(NOT_MOBILE)).to_be_visible()
    assert sipgate_live.messages == []

    # A German mobile number as people type it: national format, with a space.
    page.get_by_label("Mobile phone number").fill("0151 23456789")
    page.get_by_role("button", name="Text me a code").click()
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    expect(page.get_by_text(mask_phone_number(PHONE))).to_be_visible()
    expect(page.get_by_label(REMEMBER)).to_have_count(0)  # not before the number is confirmed
    assert [m.recipient for m in sipgate_live.messages] == [PHONE]
    code = sipgate_live.last_code(PHONE)

    enter_code(page, f"{(int(code) + 1) % 1_000_000:06d}")  # a typo first
    expect(page.get_by_text(WRONG_CODE)).to_be_visible()
    user.refresh_from_db()
    assert not user.has_verified_phone
    enter_code(page, code)

    expect_home(page, live_server, user.email)
    user.refresh_from_db()
    assert (user.phone_number, user.has_verified_phone) == (PHONE, True)
    open_security_page(page, live_server)
    expect(factor_value(page, "Phone (SMS)")).to_contain_text(mask_phone_number(PHONE))
    expect(page.get_by_text(PHONE)).to_have_count(0)


# -- authenticator app ----------------------------------------------------------------------


def test_authenticator_app_is_set_up_and_then_replaces_the_sms(
    page, live_server, sipgate_live, make_user
):
    user = make_user("rupert@example.com")
    sign_in_by_sms(page, live_server, sipgate_live, user.email)
    open_security_page(page, live_server)
    app = set_up_authenticator(page, live_server, sipgate_live)
    sign_out(page, live_server)
    sent = len(sipgate_live.messages)

    submit_password(page, user.email)

    expect(page).to_have_url(url_of(live_server, VERIFY_TOTP_PATH))
    expect(page.get_by_role("heading", name="Enter the code from your app")).to_be_visible()
    assert len(sipgate_live.messages) == sent  # no SMS unless the user asks for one
    # The next step's code: the step used to turn the app on cannot be used again.
    enter_code(page, app.at(time.time() + 30), label="Code from your authenticator app")
    expect_home(page, live_server, user.email)
    assert len(sipgate_live.messages) == sent


# -- recovery codes -------------------------------------------------------------------------


def test_recovery_code_signs_in_once_and_says_how_many_are_left(
    page, live_server, sipgate_live, make_user
):
    user = make_user("sybil@example.com")
    sign_in_by_sms(page, live_server, sipgate_live, user.email)
    open_security_page(page, live_server)
    expect(page.locator("#recovery-left")).to_have_text("0 left")
    codes = make_recovery_codes(page, live_server, sipgate_live)
    page.get_by_role("link", name="Done").click()
    expect(page.locator("#recovery-left")).to_have_text("10 left")
    sign_out(page, live_server)

    submit_password(page, user.email)
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    sign_in_with_recovery_code(page, codes[3])

    expect_home(page, live_server, user.email)
    expect(page.get_by_role("status")).to_contain_text(
        "You signed in with a recovery code. You have 9 recovery codes left."
    )
    open_security_page(page, live_server)
    expect(page.locator("#recovery-left")).to_have_text("9 left")
    sign_out(page, live_server)

    submit_password(page, user.email)
    sign_in_with_recovery_code(page, codes[3])  # the same code again
    expect(page).to_have_url(url_of(live_server, VERIFY_RECOVERY_PATH))
    expect(page.get_by_text(RECOVERY_REFUSED)).to_be_visible()
    home = page.request.get("/", max_redirects=0)  # with this browser's cookies
    assert (home.status, home.headers["location"]) == (302, LOGIN_PATH + "?next=/")


# -- remembered browser ---------------------------------------------------------------------


def test_remembered_browser_skips_the_code_until_it_is_forgotten(
    page, live_server, sipgate_live, make_user
):
    user = make_user("trent@example.com")
    submit_password(page, user.email)
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    page.get_by_label(REMEMBER).check()
    enter_code(page, sipgate_live.last_code(PHONE))
    expect_home(page, live_server, user.email)
    sign_out(page, live_server)

    # The same browser: the password is still asked, the code is not.
    submit_password(page, user.email)
    expect_home(page, live_server, user.email)
    assert len(sipgate_live.messages) == 1

    open_security_page(page, live_server)
    expect(remembered_browsers(page)).to_have_count(1)
    remembered_browsers(page).get_by_role("button", name="Forget").click()
    expect(page.get_by_role("status")).to_have_text(FORGOTTEN)
    expect(page.get_by_text("No browser skips the code.")).to_be_visible()
    sign_out(page, live_server)

    submit_password(page, user.email)
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    assert len(sipgate_live.messages) == 2
    enter_code(page, sipgate_live.last_code(PHONE))
    expect_home(page, live_server, user.email)


def test_remembered_browser_is_named_so_that_the_user_can_tell_which_it_is(
    page, live_server, sipgate_live, make_user
):
    user = make_user("ursula@example.com")
    submit_password(page, user.email)
    page.get_by_label(REMEMBER).check()
    enter_code(page, sipgate_live.last_code(PHONE))
    expect_home(page, live_server, user.email)

    open_security_page(page, live_server)
    expect(remembered_browsers(page)).to_have_count(1)
    # This is Chromium: the entry should say "Chrome", not only the user agent's first
    # 60 characters, which are the same for Chrome, Edge, Opera and Brave on one system.
    expect(remembered_browsers(page)).to_contain_text("Chrome", timeout=2_000)


# -- the whole story of issue 5 ---------------------------------------------------------------


def test_from_admin_created_account_to_getting_back_in_without_the_phone(
    page, other_page, live_server, sipgate_live, staff_user
):
    email = "uma@example.com"
    # An administrator creates the account in the admin, with no phone number.
    admin = other_page
    submit_password(admin, staff_user.email, path=LOGIN_PATH + "?next=/admin/accounts/user/add/")
    enter_code(admin, sipgate_live.last_code(STAFF_PHONE))
    expect(admin).to_have_url(url_of(live_server, "/admin/accounts/user/add/"))
    admin.get_by_label("Email address").fill(email)
    admin.get_by_label("Password:", exact=True).fill(DEFAULT_PASSWORD)
    admin.get_by_label("Password confirmation:").fill(DEFAULT_PASSWORD)
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist .success")).to_contain_text("was added successfully")
    user = User.objects.get(email=email)
    assert (user.phone_number, user.has_verified_phone) == ("", False)
    sipgate_live.clear()

    # First sign-in: the user enrolls the phone by SMS ...
    enroll_phone(page, live_server, sipgate_live, email, "+49 151 23456789")
    # ... adds an authenticator app ...
    open_security_page(page, live_server)
    expect(factor_value(page, "Phone (SMS)")).to_contain_text(mask_phone_number(PHONE))
    set_up_authenticator(page, live_server, sipgate_live)
    # ... and recovery codes (the re-authentication a moment ago still counts).
    codes = make_recovery_codes(page, live_server, sipgate_live, reauth=False)
    page.get_by_role("link", name="Done").click()
    expect(factor_value(page, "Authenticator app")).to_contain_text("On")
    expect(page.locator("#recovery-left")).to_have_text("10 left")
    sign_out(page, live_server)
    sent = len(sipgate_live.messages)

    # The phone is lost, and the authenticator app with it: a recovery code gets the user in.
    submit_password(page, email)
    expect(page).to_have_url(url_of(live_server, VERIFY_TOTP_PATH))
    sign_in_with_recovery_code(page, codes[0])

    expect_home(page, live_server, email)
    expect(page.get_by_role("status")).to_contain_text("You have 9 recovery codes left.")
    assert len(sipgate_live.messages) == sent  # not a single SMS for this sign-in
