"""The sign-in as a person sees it: Chromium drives the real pages of a live server.

SMS go out through the production sipgate backend to the fake sipgate on loopback, and the
tests read the codes from there, as a person reads them from the phone.
"""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from accounts.models import LoginCode
from tests.conftest import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

LOGIN_PATH = "/accounts/login/"
VERIFY_PATH = "/accounts/login/verify/"
PHONE = "+4915123456789"
STAFF_PHONE = "+4915199999999"

BAD_LOGIN = "Please enter a correct email address and password."
WRONG_CODE = "That code is not right. Please check the SMS and try again."
EXPIRED = "This code has expired. Please request a new code."
SMS_FAILED = "We could not send the SMS. Please try again in a minute."
CODE_SENT = "We sent a new code to your phone."
WAIT_TEXT = re.compile(r"You can request a new code in \d+ seconds?\.")
COOLDOWN = 3  # seconds; LOGIN_CODE_RESEND_COOLDOWN in the tests that wait for it


# -- helpers -------------------------------------------------------------------------------


def url_of(live_server, path: str) -> re.Pattern:
    """Match the full URL of `path` on the live server, exactly (query string included)."""
    return re.compile(re.escape(live_server.url + path) + "$")


def sign_in_with_password(page: Page, live_server, email: str, path: str = LOGIN_PATH) -> None:
    """Pass step 1 with the mouse (or finger) and end on the code page."""
    page.goto(path)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))


def code_field(page: Page) -> Locator:
    return page.get_by_label("Code from the SMS")


def enter_code(page: Page, code: str) -> None:
    code_field(page).fill(code)
    page.get_by_role("button", name="Sign in").click()


def resend_button(page: Page) -> Locator:
    return page.get_by_role("button", name="Send a new code")


def wrong(code: str) -> str:
    """Return a well-formed code that is not `code`."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def expect_home(page: Page, live_server, email: str) -> None:
    expect(page).to_have_url(url_of(live_server, "/"))
    expect(page.get_by_role("heading", name="You are signed in")).to_be_visible()
    expect(page.get_by_text(email, exact=True)).to_be_visible()


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def tab_to(page: Page, target: Locator, max_tabs: int = 25) -> None:
    """Move the keyboard focus with Tab until `target` has it."""
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    pytest.fail(f"Tab never reached {target}")


def outline_of(target: Locator) -> dict:
    return target.evaluate(
        "el => { const s = getComputedStyle(el);"
        " return {style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"
    )


ALL_OF_FOCUSED_FIELD_SELECTED_JS = """() => {
  const el = document.activeElement;
  return el.value.length > 0 && el.selectionStart === 0 && el.selectionEnd === el.value.length;
}"""
UNLABELLED_INPUTS_JS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden')
  .filter(el => ![...el.labels].some(label => {
    const box = label.getBoundingClientRect();
    return label.innerText.trim() !== '' && box.width > 0 && box.height > 0
      && getComputedStyle(label).visibility === 'visible';
  }))
  .map(el => el.name || el.id || el.outerHTML)"""


# -- the whole sign-in ---------------------------------------------------------------------


def test_sign_in_on_desktop_with_the_keyboard(page, live_server, sipgate_live, make_user):
    user = make_user("alice@example.com")
    page.goto("/")
    expect(page).to_have_url(url_of(live_server, LOGIN_PATH + "?next=/"))

    page.get_by_label("Email address").click()
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    page.keyboard.type(DEFAULT_PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    expect(page.get_by_text(user.masked_phone_number)).to_be_visible()
    expect(code_field(page)).to_be_focused()  # autofocus: the code can be typed at once
    assert len(sipgate_live.messages) == 1
    sms = sipgate_live.messages[0]
    code = sipgate_live.last_code(PHONE)
    assert (sms.sms_id, sms.recipient) == ("s0", PHONE)
    assert sms.message.endswith(f"@localhost #{code}")  # WebOTP line for this host
    page.keyboard.type(code)
    page.keyboard.press("Enter")

    expect_home(page, live_server, user.email)
    expect(page.get_by_text(user.masked_phone_number)).to_be_visible()
    expect(page.get_by_text(PHONE)).to_have_count(0)


def test_sign_in_on_a_phone(phone_page, live_server, sipgate_live, make_user):
    page = phone_page
    user = make_user("bob@example.com")
    page.goto(LOGIN_PATH)
    assert page_width(page) <= 375

    page.get_by_label("Email address").tap()
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Continue").tap()
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    expect(page.get_by_text(user.masked_phone_number)).to_be_visible()
    assert page_width(page) <= 375

    code_field(page).fill(sipgate_live.last_code(PHONE))
    page.get_by_role("button", name="Sign in").tap()

    expect_home(page, live_server, user.email)
    expect(page.get_by_text(user.masked_phone_number)).to_be_visible()
    assert page_width(page) <= 375


def test_wrong_password_is_refused_with_one_message(page, live_server, sipgate_live, make_user):
    user = make_user("carol@example.com")
    page.goto(LOGIN_PATH)
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("alert")).to_have_text(BAD_LOGIN)
    expect(page).to_have_url(url_of(live_server, LOGIN_PATH))
    expect(page.get_by_label("Email address")).to_have_value(user.email)
    assert sipgate_live.messages == []


def test_wrong_code_then_the_right_one(page, live_server, sipgate_live, make_user):
    user = make_user("dave@example.com")
    sign_in_with_password(page, live_server, user.email)
    code = sipgate_live.last_code(PHONE)

    enter_code(page, wrong(code))

    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    expect(page.get_by_text(WRONG_CODE)).to_be_visible()
    expect(code_field(page)).to_have_attribute("aria-invalid", "true")
    expect(code_field(page)).to_have_accessible_description(WRONG_CODE)
    # The refused code is focused and selected, so typing the right one replaces it.
    expect(code_field(page)).to_be_focused()
    page.wait_for_function(ALL_OF_FOCUSED_FIELD_SELECTED_JS)

    page.keyboard.type(f"{code[:3]} {code[3:]}")  # spaced as some people type it: allowed
    page.keyboard.press("Enter")

    expect_home(page, live_server, user.email)
    assert len(sipgate_live.messages) == 1


def test_resend_waits_for_the_cooldown_then_sends_a_working_code(
    page, live_server, sipgate_live, make_user, settings
):
    settings.LOGIN_CODE_RESEND_COOLDOWN = COOLDOWN
    user = make_user("erin@example.com")
    sign_in_with_password(page, live_server, user.email)
    first_code = sipgate_live.last_code(PHONE)

    expect(page.get_by_text(WAIT_TEXT)).to_be_visible()
    expect(resend_button(page)).to_be_disabled()

    # The countdown script enables the button when the wait is over; no sleep needed.
    expect(resend_button(page)).to_be_enabled(timeout=(COOLDOWN + 5) * 1000)
    expect(page.get_by_text("You can request a new code now.")).to_be_visible()
    resend_button(page).click()

    expect(page.get_by_text(CODE_SENT)).to_be_visible()
    expect(resend_button(page)).to_have_attribute("data-cooldown", re.compile(r"^\d+$"))
    assert len(sipgate_live.messages) == 2
    new_code = sipgate_live.last_code(PHONE)
    if new_code != first_code:  # one chance in a million that they are equal
        enter_code(page, first_code)
        expect(page.get_by_text(WRONG_CODE)).to_be_visible()
    enter_code(page, new_code)
    expect_home(page, live_server, user.email)


def test_resend_cooldown_works_without_javascript(
    no_script_page, live_server, sipgate_live, make_user, settings
):
    page = no_script_page
    settings.LOGIN_CODE_RESEND_COOLDOWN = COOLDOWN
    user = make_user("frank@example.com")
    sign_in_with_password(page, live_server, user.email)
    expect(page.get_by_text(WAIT_TEXT)).to_be_visible()
    expect(resend_button(page)).to_be_disabled()

    time.sleep(COOLDOWN)  # let the cooldown pass; without the script the page stays as it is
    expect(resend_button(page)).to_be_disabled()
    page.reload()
    expect(resend_button(page)).to_be_enabled()
    resend_button(page).click()

    expect(page.get_by_text(CODE_SENT)).to_be_visible()
    assert len(sipgate_live.messages) == 2
    enter_code(page, sipgate_live.last_code(PHONE))
    expect_home(page, live_server, user.email)


def test_expired_code_shows_the_expiry_message(
    page, live_server, sipgate_live, make_user, settings
):
    settings.LOGIN_CODE_TTL = 30
    user = make_user("grace@example.com")
    sign_in_with_password(page, live_server, user.email)
    assert "Valid 30 seconds." in sipgate_live.messages[-1].message
    LoginCode.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))

    enter_code(page, sipgate_live.last_code(PHONE))

    expect(page.get_by_text(EXPIRED)).to_be_visible()
    expect(page).to_have_url(url_of(live_server, VERIFY_PATH))
    home = page.request.get("/", max_redirects=0)  # with this browser's cookies
    assert (home.status, home.headers["location"]) == (302, LOGIN_PATH + "?next=/")


def test_sipgate_outage_then_a_new_code_once_it_is_back(
    page, live_server, sipgate_live, make_user, settings
):
    settings.LOGIN_CODE_RESEND_COOLDOWN = COOLDOWN
    user = make_user("heidi@example.com")
    sipgate_live.fail_always(503)

    sign_in_with_password(page, live_server, user.email)

    expect(page.get_by_text(SMS_FAILED)).to_be_visible()
    assert sipgate_live.messages == []
    assert [r.status for r in sipgate_live.requests] == [503]
    expect(resend_button(page)).to_be_disabled()
    expect(page.get_by_text(WAIT_TEXT)).to_be_visible()

    sipgate_live.fail_always(None)
    expect(resend_button(page)).to_be_enabled(timeout=(COOLDOWN + 5) * 1000)
    resend_button(page).click()

    expect(page.get_by_text(CODE_SENT)).to_be_visible()
    expect(page.get_by_text(SMS_FAILED)).to_have_count(0)
    enter_code(page, sipgate_live.last_code(PHONE))
    expect_home(page, live_server, user.email)


def test_admin_opens_only_after_the_code(page, live_server, sipgate_live, staff_user):
    login_for_admin = url_of(live_server, LOGIN_PATH + "?next=/admin/")
    page.goto("/admin/")
    expect(page).to_have_url(login_for_admin)

    sign_in_with_password(page, live_server, staff_user.email, path=LOGIN_PATH + "?next=/admin/")
    page.goto("/admin/")  # the password alone does not open the admin
    expect(page).to_have_url(login_for_admin)
    expect(page.get_by_text("Site administration")).to_have_count(0)

    page.goto(VERIFY_PATH)  # the pending login is still there
    enter_code(page, sipgate_live.last_code(STAFF_PHONE))

    expect(page).to_have_url(url_of(live_server, "/admin/"))
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_sign_out_ends_the_session(page, live_server, sipgate_live, make_user):
    user = make_user("ivan@example.com")
    sign_in_with_password(page, live_server, user.email)
    enter_code(page, sipgate_live.last_code(PHONE))
    expect_home(page, live_server, user.email)

    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(url_of(live_server, LOGIN_PATH))
    page.goto("/")
    expect(page).to_have_url(url_of(live_server, LOGIN_PATH + "?next=/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


# -- accessibility and product checks -----------------------------------------------------


def test_every_input_has_a_visible_label(page, live_server, sipgate_live, make_user):
    user = make_user("judy@example.com")
    page.goto(LOGIN_PATH)
    assert page.evaluate(UNLABELLED_INPUTS_JS) == []

    sign_in_with_password(page, live_server, user.email)
    assert page.evaluate(UNLABELLED_INPUTS_JS) == []
    enter_code(page, wrong(sipgate_live.last_code(PHONE)))  # the page with an error, too
    expect(page.get_by_text(WRONG_CODE)).to_be_visible()
    assert page.evaluate(UNLABELLED_INPUTS_JS) == []


def test_code_field_asks_for_a_one_time_code_on_a_number_pad(
    page, live_server, sipgate_live, make_user
):
    user = make_user("ken@example.com")
    sign_in_with_password(page, live_server, user.email)

    expect(code_field(page)).to_have_attribute("autocomplete", "one-time-code")
    expect(code_field(page)).to_have_attribute("inputmode", "numeric")
    expect(code_field(page)).to_be_visible()


def test_keyboard_focus_is_visible(page, live_server, sipgate_live, make_user):
    user = make_user("lena@example.com")
    page.goto(LOGIN_PATH)

    skip_link = page.get_by_role("link", name="Skip to content")
    tab_to(page, skip_link)
    expect(skip_link).to_be_in_viewport()
    for target in (
        page.get_by_label("Email address"),
        page.get_by_label("Password", exact=True),
        page.get_by_role("button", name="Continue"),
    ):
        tab_to(page, target)
        outline = outline_of(target)
        assert outline["style"] != "none", target
        assert outline["width"] >= 2, target

    sign_in_with_password(page, live_server, user.email)
    for target in (
        code_field(page),
        page.get_by_role("button", name="Sign in"),
        page.get_by_role("link", name="Start over"),
    ):
        tab_to(page, target)
        assert outline_of(target)["style"] != "none", target


def test_no_horizontal_scrolling_on_a_375px_phone(
    phone_page, live_server, sipgate_live, make_user
):
    page = phone_page
    # A long address is the widest thing these pages show.
    user = make_user("maximiliane.mustermann-schmidt@verwaltung.example-domain.com")
    page.goto(LOGIN_PATH)
    page.get_by_role("button", name="Continue").tap()  # an empty form: two field errors
    expect(page.get_by_text("This field is required.")).to_have_count(2)
    assert page_width(page) <= 375

    sign_in_with_password(page, live_server, user.email)
    assert page_width(page) <= 375
    enter_code(page, "12")  # a format error
    expect(page.get_by_text("Enter the 6-digit code from the SMS")).to_be_visible()
    assert page_width(page) <= 375

    enter_code(page, sipgate_live.last_code(PHONE))
    expect_home(page, live_server, user.email)
    assert page_width(page) <= 375


def test_no_request_leaves_the_live_server_and_no_errors(
    page, live_server, sipgate_live, make_user, network_log, settings
):
    settings.LOGIN_CODE_RESEND_COOLDOWN = COOLDOWN
    user = make_user("nina@example.com")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: errors.append(str(err)))

    sign_in_with_password(page, live_server, user.email)
    expect(resend_button(page)).to_be_enabled(timeout=(COOLDOWN + 5) * 1000)  # script ran
    enter_code(page, sipgate_live.last_code(PHONE))
    expect_home(page, live_server, user.email)

    network_log.assert_same_origin(live_server.url)
    assert any(url.endswith(".css") for url in network_log.urls)
    assert any(url.endswith(".js") for url in network_log.urls)
    assert errors == []  # no script error and no Content-Security-Policy violation


def test_login_page_shows_the_site_name(page, settings):
    page.goto(LOGIN_PATH)

    expect(page.get_by_role("link", name=settings.SITE_NAME)).to_be_visible(timeout=1000)
    expect(page).to_have_title(f"Sign in · {settings.SITE_NAME}", timeout=1000)
