"""The operator's side of the abuse limits in the admin: lock state and SMS counts in the user
list, the unlock / reset / sign-out actions, phone validation on save, the read-only audit
trail and SMS log, and the budget banner.

Admin access uses `force_login` with a staff superuser; the two-step sign-in itself is tested
in test_admin.py.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client, override_settings
from django.utils import timezone

from accounts.admin import UserAdmin
from accounts.models import AuthEvent, LoginCode, SmsSend, User
from accounts.services.codes import login_code_issue
from tests.conftest import DEFAULT_PASSWORD, code_from_outbox

USERS_URL = "/admin/accounts/user/"
EVENTS_URL = "/admin/accounts/authevent/"
SMS_URL = "/admin/accounts/smssend/"
ADMIN_URLS = ["/admin/", USERS_URL, EVENTS_URL, SMS_URL]

INVALID_PHONE = "Enter a valid phone number, for example +49 151 23456789."
COUNTRY_ERROR = "Codes can only be sent to numbers from DE, AT, CH."
NOT_MOBILE = (
    "Enter a mobile number: landline, premium-rate and shared-cost numbers cannot receive codes."
)
BANNER_ID = 'id="sms-budget-banner"'

Kind = AuthEvent.Kind


# --- helpers ---------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def table_rows(page: str) -> list[str]:
    """Return the <tr> rows of the changelist's result table (header row excluded)."""
    match = re.search(r'<table id="result_list">(.*?)</table>', page, re.DOTALL)
    assert match, "no result table on the page"
    body = re.search(r"<tbody>(.*?)</tbody>", match.group(1), re.DOTALL)
    return re.findall(r"<tr.*?</tr>", body.group(1), re.DOTALL) if body else []


def table_row(page: str, text: str) -> str:
    """Return the one changelist row that contains `text`."""
    rows = [row for row in table_rows(page) if text in row]
    assert len(rows) == 1, f"{len(rows)} rows contain {text!r}"
    return rows[0]


def cell(row: str, column: str) -> str:
    """Return the text of the `field-<column>` cell of a changelist row."""
    match = re.search(rf'class="field-{column}"[^>]*>(.*?)</t[dh]>', row, re.DOTALL)
    assert match, f"no {column} cell in {row!r}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def field_errors(page: str, field: str) -> str:
    """Return the text of the admin form's error list for `field` ("" when it has none)."""
    match = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', page, re.DOTALL)
    return match.group(1) if match else ""


def sms_rows(count: int, *, phone: str = "+4915122222222", user=None, age=timedelta(0)):
    """Create `count` SmsSend rows sent `age` ago."""
    when = timezone.now() - age
    return [
        SmsSend.objects.create(phone_number=phone, user=user, created_at=when, delivered=True)
        for _ in range(count)
    ]


def lock(user: User, *, minutes: int = 15, failures: int = 0) -> User:
    User.objects.filter(pk=user.pk).update(
        locked_until=timezone.now() + timedelta(minutes=minutes),
        code_failures=failures,
        code_lockouts=1,
    )
    user.refresh_from_db()
    return user


def run_action(client: Client, action: str, *users: User, follow: bool = False):
    return client.post(
        USERS_URL,
        {"action": action, "_selected_action": [u.pk for u in users], "index": "0"},
        follow=follow,
    )


def change_user_data(user: User, **overrides) -> dict:
    return {
        "email": user.email,
        "phone_number": user.phone_number,
        "is_active": "on",
        "_save": "Save",
        **overrides,
    }


def event(kind: str, *, user=None, detail: str = "", created_at=None, ip="192.0.2.1"):
    return AuthEvent.objects.create(
        kind=kind,
        user=user,
        detail=detail,
        ip_address=ip,
        created_at=created_at or timezone.now(),
    )


# --- user list: lock state and SMS in 24 h ----------------------------------------------


def test_user_list_shows_lock_state(staff_client, make_user):
    locked = lock(make_user("locked@example.com"), minutes=30)
    expired = make_user("expired@example.com")
    User.objects.filter(pk=expired.pk).update(locked_until=timezone.now() - timedelta(minutes=1))
    make_user("fine@example.com", code_failures=4)

    page = staff_client.get(USERS_URL).content.decode()

    expected = f"locked until {timezone.localtime(locked.locked_until):%Y-%m-%d %H:%M}"
    assert cell(table_row(page, "locked@example.com"), "lock_state") == expected
    assert cell(table_row(page, "expired@example.com"), "lock_state") == "ok"
    assert cell(table_row(page, "fine@example.com"), "lock_state") == "ok"
    assert "second factor" in page.lower()  # the column header


def test_user_list_counts_sms_of_the_last_24_hours(staff_client, make_user):
    busy = make_user("busy@example.com", phone_number="+4915133333333")
    quiet = make_user("quiet@example.com", phone_number="+4915144444444")
    sms_rows(3, phone=busy.phone_number, user=busy, age=timedelta(minutes=5))
    sms_rows(1, phone=busy.phone_number, user=busy, age=timedelta(hours=23))
    sms_rows(2, phone=busy.phone_number, user=busy, age=timedelta(hours=25))  # too old
    sms_rows(2, phone=quiet.phone_number, user=quiet, age=timedelta(days=3))
    sms_rows(5, phone="+4915155555555", user=None)  # test SMS, nobody's

    page = staff_client.get(USERS_URL).content.decode()

    assert "sms in 24 h" in page.lower()
    assert cell(table_row(page, "busy@example.com"), "sms_last_day") == "4"
    assert cell(table_row(page, "quiet@example.com"), "sms_last_day") == "0"


def test_user_list_sorts_by_sms_count(staff_client, make_user):
    for email, count in [("a@example.com", 1), ("b@example.com", 5), ("c@example.com", 3)]:
        account = make_user(email)
        sms_rows(count, phone=account.phone_number, user=account)

    header = re.search(
        r'class="[^"]*column-sms_last_day[^"]*">.*?href="\?o=(\d+)',
        staff_client.get(USERS_URL).content.decode(),
        re.DOTALL,
    )
    assert header, "the SMS column cannot be sorted"

    page = staff_client.get(USERS_URL, {"o": f"-{header.group(1)}"}).content.decode()

    emails = [re.search(r"[abc]@example\.com", row) for row in table_rows(page)]
    assert [m.group(0) for m in emails if m] == ["b@example.com", "c@example.com", "a@example.com"]


# --- actions ---------------------------------------------------------------------------


def test_unlock_action_clears_the_lock_and_audits(staff_client, staff_user, user):
    lock(user, failures=7)

    response = run_action(staff_client, "unlock_second_factor", user, follow=True)

    assert response.status_code == 200
    assert "1 user(s) unlocked." in response.content.decode()
    user.refresh_from_db()
    assert user.locked_until is None
    assert user.code_failures == 0
    assert user.code_lockouts == 0
    assert not user.is_code_locked()
    unlocked = AuthEvent.objects.get(kind=Kind.UNLOCKED)
    assert unlocked.user == user
    assert staff_user.email in unlocked.detail
    assert unlocked.ip_address == "127.0.0.1"
    assert cell(table_row(response.content.decode(), user.email), "lock_state") == "ok"


def test_unlock_action_lets_the_user_get_a_code_again(staff_client, user, sms_outbox):
    lock(user)
    browser = Client()
    blocked = browser.post(
        "/accounts/login/", {"username": user.email, "password": DEFAULT_PASSWORD}
    )
    assert blocked.status_code in (200, 429)
    assert sms_outbox == []

    run_action(staff_client, "unlock_second_factor", user)
    response = Client().post(
        "/accounts/login/", {"username": user.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302
    assert [m.to for m in sms_outbox] == [user.phone_number]


def test_unlock_action_on_several_users_touches_only_those(staff_client, make_user):
    first = lock(make_user("one@example.com"), failures=2)
    second = lock(make_user("two@example.com"), failures=3)
    other = lock(make_user("three@example.com"), failures=4)

    response = run_action(staff_client, "unlock_second_factor", first, second, follow=True)

    assert "2 user(s) unlocked." in response.content.decode()
    for account in (first, second):
        account.refresh_from_db()
        assert (account.locked_until, account.code_failures) == (None, 0)
    other.refresh_from_db()
    assert other.is_code_locked()
    assert other.code_failures == 4
    assert set(AuthEvent.objects.filter(kind=Kind.UNLOCKED).values_list("user", flat=True)) == {
        first.pk,
        second.pk,
    }


def test_reset_action_unlocks_voids_open_codes_and_audits(staff_client, staff_user, make_user):
    user = make_user("alice@example.com")
    bystander = make_user("bob@example.com")
    now = timezone.now()
    old_row, _ = login_code_issue(user=user, challenge="c1", now=now - timedelta(minutes=5))
    open_row, _ = login_code_issue(user=user, challenge="c2", now=now)
    used = now - timedelta(minutes=4)
    LoginCode.objects.filter(pk=old_row.pk).update(voided_at=None, used_at=used)
    other_row, _ = login_code_issue(user=bystander, challenge="c3", now=now)
    lock(user, failures=5)

    response = run_action(staff_client, "reset_second_factor", user, follow=True)

    assert "1 user(s) second factor reset." in response.content.decode()
    user.refresh_from_db()
    assert (user.locked_until, user.code_failures, user.code_lockouts) == (None, 0, 0)
    open_row.refresh_from_db()
    assert open_row.voided_at is not None
    assert open_row.state() == "voided"
    old_row.refresh_from_db()
    assert old_row.state() == "used"  # already finished: left alone
    other_row.refresh_from_db()
    assert other_row.state() == "open"
    assert not LoginCode.objects.filter(user=user).open().exists()
    action = AuthEvent.objects.get(kind=Kind.ADMIN_ACTION)
    assert action.user == user
    assert "reset" in action.detail
    assert staff_user.email in action.detail


def test_reset_action_makes_a_pending_code_useless(pending_client, staff_user, user, sms_outbox):
    code = code_from_outbox(sms_outbox)
    admin_browser = Client()
    admin_browser.force_login(staff_user)

    run_action(admin_browser, "reset_second_factor", user)
    response = pending_client.post("/accounts/login/verify/", {"code": code})

    assert response.status_code == 200
    assert "_auth_user_id" not in pending_client.session


def test_end_all_sessions_signs_the_user_out_elsewhere(staff_client, staff_user, make_user):
    user = make_user("alice@example.com")
    bystander = make_user("bob@example.com")
    browser, laptop, bystander_browser = Client(), Client(), Client()
    browser.force_login(user)
    laptop.force_login(user)
    bystander_browser.force_login(bystander)
    assert browser.get("/").status_code == 200
    assert laptop.get("/").status_code == 200

    response = run_action(staff_client, "end_all_sessions", user, follow=True)

    assert "1 user(s) signed out everywhere." in response.content.decode()
    for signed_out in (browser, laptop):
        home = signed_out.get("/")
        assert home.status_code == 302
        assert home["Location"] == "/accounts/login/?next=/"
        assert "_auth_user_id" not in signed_out.session
    assert bystander_browser.get("/").status_code == 200
    assert staff_client.get(USERS_URL).status_code == 200
    action = AuthEvent.objects.get(kind=Kind.ADMIN_ACTION)
    assert action.user == user
    assert "signed out everywhere" in action.detail
    assert staff_user.email in action.detail


def test_end_all_sessions_does_not_stop_a_fresh_sign_in(staff_client, user):
    run_action(staff_client, "end_all_sessions", user)
    later = Client()
    later.force_login(User.objects.get(pk=user.pk))

    assert later.get("/").status_code == 200


# --- change form: the phone number ---------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        pytest.param("+12025550123", COUNTRY_ERROR, id="us-number"),
        pytest.param("+44 7911 123456", COUNTRY_ERROR, id="uk-mobile"),
        pytest.param("+49 30 12345678", NOT_MOBILE, id="berlin-landline"),
        pytest.param("030 12345678", NOT_MOBILE, id="landline-national"),
        pytest.param("+49 900 5123456", NOT_MOBILE, id="premium-rate"),
        pytest.param("+49 180 5123456", NOT_MOBILE, id="shared-cost"),
        pytest.param("12345", INVALID_PHONE, id="not-a-number"),
    ],
)
def test_change_form_rejects_numbers_that_cannot_get_codes(staff_client, user, phone, message):
    response = staff_client.post(
        f"{USERS_URL}{user.pk}/change/", change_user_data(user, phone_number=phone)
    )

    assert response.status_code == 200
    assert message in field_errors(response.content.decode(), "phone_number")
    user.refresh_from_db()
    assert user.phone_number == "+4915123456789"
    assert not AuthEvent.objects.filter(kind=Kind.PHONE_CHANGED).exists()


@override_settings(SMS_ALLOWED_COUNTRIES=["DE"])
def test_change_form_follows_the_allowed_countries_setting(staff_client, user):
    response = staff_client.post(
        f"{USERS_URL}{user.pk}/change/", change_user_data(user, phone_number="+43 664 1234567")
    )

    assert response.status_code == 200
    errors = field_errors(response.content.decode(), "phone_number")
    assert "Codes can only be sent to numbers from DE." in errors


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0170 1234567", "+491701234567"),
        ("+43 664 1234567", "+436641234567"),
        ("+41 79 123 45 67", "+41791234567"),
    ],
)
def test_change_form_normalises_a_mobile_and_audits_the_change(
    staff_client, staff_user, user, typed, stored
):
    response = staff_client.post(
        f"{USERS_URL}{user.pk}/change/", change_user_data(user, phone_number=typed)
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.phone_number == stored
    changed = AuthEvent.objects.get(kind=Kind.PHONE_CHANGED)
    assert changed.user == user
    assert staff_user.email in changed.detail


def test_change_form_without_a_new_phone_writes_no_phone_event(staff_client, user):
    response = staff_client.post(
        f"{USERS_URL}{user.pk}/change/", change_user_data(user, is_active="")
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert not AuthEvent.objects.filter(kind=Kind.PHONE_CHANGED).exists()


def test_change_form_same_number_typed_differently_is_no_phone_change(staff_client, user):
    """The audit trail must not claim a phone change when the stored number stays the same."""
    response = staff_client.post(
        f"{USERS_URL}{user.pk}/change/", change_user_data(user, phone_number="0151 234 567 89")
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.phone_number == "+4915123456789"
    assert not AuthEvent.objects.filter(kind=Kind.PHONE_CHANGED).exists()


# --- the audit trail -------------------------------------------------------------------


def test_event_list_shows_the_events(staff_client, user):
    event(Kind.CODE_WRONG, user=user, detail="detail-wrong")
    event(Kind.THROTTLED, user=None, detail="ip-password", ip="198.51.100.7")

    response = staff_client.get(EVENTS_URL)
    page = response.content.decode()

    assert response.status_code == 200
    wrong = table_row(page, "detail-wrong")
    assert cell(wrong, "kind") == "code wrong"
    assert user.email in wrong
    assert "192.0.2.1" in wrong
    throttled = table_row(page, "ip-password")
    assert cell(throttled, "kind") == "throttled"
    assert "198.51.100.7" in throttled


def test_event_list_filters_by_kind(staff_client, user):
    event(Kind.LOCKED, user=user, detail="detail-locked")
    event(Kind.UNLOCKED, user=user, detail="detail-unlocked")
    event(Kind.CODE_OK, user=user, detail="detail-ok")

    page = staff_client.get(EVENTS_URL, {"kind": Kind.LOCKED}).content.decode()

    assert len(table_rows(page)) == 1
    assert "detail-locked" in page
    assert "detail-unlocked" not in page
    assert "detail-ok" not in page


def test_event_list_filters_by_date(staff_client, user):
    event(Kind.CODE_OK, detail="in-2023-03", created_at=datetime(2023, 3, 15, tzinfo=UTC))
    event(Kind.CODE_OK, detail="in-2023-05", created_at=datetime(2023, 5, 2, tzinfo=UTC))
    event(Kind.CODE_OK, detail="in-2024-07", created_at=datetime(2024, 7, 1, tzinfo=UTC))
    event(Kind.CODE_OK, detail="just-now")

    year = staff_client.get(EVENTS_URL, {"created_at__year": "2023"}).content.decode()
    month = staff_client.get(
        EVENTS_URL, {"created_at__year": "2023", "created_at__month": "5"}
    ).content.decode()
    day = staff_client.get(
        EVENTS_URL,
        {"created_at__year": "2024", "created_at__month": "7", "created_at__day": "1"},
    ).content.decode()
    this_year = staff_client.get(
        EVENTS_URL, {"created_at__year": str(timezone.now().year)}
    ).content.decode()

    assert {r for r in ("in-2023-03", "in-2023-05", "in-2024-07", "just-now") if r in year} == {
        "in-2023-03",
        "in-2023-05",
    }
    assert len(table_rows(month)) == 1
    assert "in-2023-05" in month
    assert len(table_rows(day)) == 1
    assert "in-2024-07" in day
    assert "just-now" in this_year
    assert "in-2023-03" not in this_year


def test_event_list_filters_by_user(staff_client, make_user):
    alice = make_user("alice@example.com")
    bob = make_user("bob@example.com")
    event(Kind.CODE_WRONG, user=alice, detail="alice-event")
    event(Kind.CODE_WRONG, user=bob, detail="bob-event")
    event(Kind.THROTTLED, detail="nobody-event")

    response = staff_client.get(EVENTS_URL, {"user__id__exact": str(bob.pk)})
    page = response.content.decode()

    assert response.status_code == 200
    assert len(table_rows(page)) == 1
    assert "bob-event" in page
    assert "alice-event" not in page


def test_event_list_searches_by_email(staff_client, make_user):
    alice = make_user("alice@example.com")
    bob = make_user("bob@example.com")
    event(Kind.PASSWORD_FAILED, user=alice, detail="alice-event")
    event(Kind.PASSWORD_FAILED, user=bob, detail="bob-event")

    page = staff_client.get(EVENTS_URL, {"q": "bob@example"}).content.decode()

    assert len(table_rows(page)) == 1
    assert "bob-event" in page
    assert "alice-event" not in page


def test_event_list_refuses_lookups_into_password_hashes(staff_client, user):
    event(Kind.CODE_OK, user=user)

    response = staff_client.get(EVENTS_URL, {"user__password__startswith": "md5"})

    assert response.status_code == 400


def test_events_cannot_be_added(staff_client, user):
    get = staff_client.get(f"{EVENTS_URL}add/")
    post = staff_client.post(f"{EVENTS_URL}add/", {"kind": Kind.UNLOCKED, "user": user.pk})

    assert get.status_code == 403
    assert post.status_code == 403
    assert not AuthEvent.objects.exists()


def test_events_cannot_be_changed(staff_client, user):
    row = event(Kind.LOCKED, user=user, detail="original")

    view = staff_client.get(f"{EVENTS_URL}{row.pk}/change/")
    post = staff_client.post(
        f"{EVENTS_URL}{row.pk}/change/", {"kind": Kind.UNLOCKED, "detail": "forged"}
    )

    assert view.status_code == 200
    assert "original" in view.content.decode()
    assert 'name="_save"' not in view.content.decode()
    assert post.status_code == 403
    row.refresh_from_db()
    assert (row.kind, row.detail) == (Kind.LOCKED, "original")


def test_events_cannot_be_deleted_from_the_admin(staff_client, user):
    """The trail is trimmed by purge_auth_events only; staff cannot erase their tracks."""
    row = event(Kind.ADMIN_ACTION, user=user, detail="keep me")

    delete = staff_client.post(f"{EVENTS_URL}{row.pk}/delete/", {"post": "yes"})
    bulk = staff_client.post(
        EVENTS_URL, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    )

    assert delete.status_code == 403
    assert bulk.status_code in (200, 302)
    assert AuthEvent.objects.filter(pk=row.pk).exists()


# --- SMS sent --------------------------------------------------------------------------


def test_sms_list_shows_masked_numbers_only(staff_client, user):
    send = SmsSend.objects.create(
        phone_number="+4917612345678", user=user, purpose=SmsSend.Purpose.LOGIN, delivered=True
    )
    SmsSend.objects.create(phone_number="+436641234567", purpose=SmsSend.Purpose.TEST)

    listing = staff_client.get(SMS_URL)
    detail = staff_client.get(f"{SMS_URL}{send.pk}/change/")

    assert listing.status_code == 200
    assert detail.status_code == 200
    page = listing.content.decode()
    row = table_row(page, user.email)
    assert cell(row, "masked_phone") == "+49 •••••••••78"
    assert cell(row, "purpose") == "login code"
    assert "+43 ••••••••67" in page
    for html in (page, detail.content.decode()):
        for secret in ("+4917612345678", "17612345678", "+436641234567", "6641234567"):
            assert secret not in html
    assert "+49 •••••••••78" in detail.content.decode()


def test_sms_rows_cannot_be_added_changed_or_deleted(staff_client, user):
    send = SmsSend.objects.create(phone_number="+4917612345678", user=user)

    add = staff_client.post(f"{SMS_URL}add/", {"phone_number": "+4917600000000"})
    change = staff_client.post(f"{SMS_URL}{send.pk}/change/", {"phone_number": "+4917600000000"})
    delete = staff_client.post(f"{SMS_URL}{send.pk}/delete/", {"post": "yes"})

    assert add.status_code == 403
    assert change.status_code == 403
    # Deleting rows would hand the budgets and the per-phone limit fresh allowances.
    assert delete.status_code == 403
    assert list(SmsSend.objects.values_list("phone_number", flat=True)) == ["+4917612345678"]


# --- budget banner ---------------------------------------------------------------------


def banner(page: str) -> str:
    match = re.search(r'id="sms-budget-banner">(.*?)</li>', page, re.DOTALL)
    return match.group(1) if match else ""


@override_settings(SMS_BUDGET_HOURLY=3, SMS_BUDGET_DAILY=1000)
def test_budget_banner_for_the_hourly_budget(staff_client):
    sms_rows(2, age=timedelta(minutes=10))
    for url in ADMIN_URLS:
        assert BANNER_ID not in staff_client.get(url).content.decode(), url

    rows = sms_rows(1, age=timedelta(minutes=1))
    for url in ADMIN_URLS:
        text = banner(staff_client.get(url).content.decode())
        assert "SMS budget reached: 3 of 3 this hour" in text, url

    SmsSend.objects.filter(pk=rows[0].pk).update(created_at=timezone.now() - timedelta(minutes=61))
    for url in ADMIN_URLS:
        assert BANNER_ID not in staff_client.get(url).content.decode(), url


@override_settings(SMS_BUDGET_HOURLY=1000, SMS_BUDGET_DAILY=4)
def test_budget_banner_for_the_daily_budget(staff_client, user):
    sms_rows(4, age=timedelta(hours=5))

    text = banner(staff_client.get("/admin/").content.decode())
    assert "4 of 4 in 24 hours" in text
    assert BANNER_ID in staff_client.get(f"{USERS_URL}{user.pk}/change/").content.decode()

    SmsSend.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    assert BANNER_ID not in staff_client.get("/admin/").content.decode()


@override_settings(SMS_BUDGET_HOURLY=2, SMS_BUDGET_DAILY=1000)
def test_budget_banner_after_real_sends(staff_client, make_user, sms_outbox):
    for n in range(2):
        account = make_user(f"u{n}@example.com", phone_number=f"+4915110000{n:03d}")
        Client(REMOTE_ADDR=f"10.9.0.{n + 1}").post(
            "/accounts/login/",
            {"username": account.email, "password": DEFAULT_PASSWORD},
        )
    assert len(sms_outbox) == 2

    assert "2 of 2 this hour" in banner(staff_client.get("/admin/").content.decode())


def test_budget_banner_absent_by_default(staff_client):
    sms_rows(5)

    assert BANNER_ID not in staff_client.get("/admin/").content.decode()


# --- who may use all this --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [USERS_URL, EVENTS_URL, SMS_URL, f"{USERS_URL}1/change/"])
def test_anonymous_cannot_reach_the_abuse_pages(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", [USERS_URL, EVENTS_URL, SMS_URL])
def test_non_staff_cannot_reach_the_abuse_pages(client, user, url):
    event(Kind.CODE_WRONG, user=user, detail="secret-detail")
    sms_rows(1, user=user)
    client.force_login(user)

    response = client.get(url, follow=True)

    assert response.status_code == 403
    assert "secret-detail" not in response.content.decode()
    assert BANNER_ID not in response.content.decode()


def test_non_staff_cannot_run_the_actions(client, make_user):
    user = make_user("plain@example.com")
    target = lock(make_user("target@example.com"), failures=3)
    client.force_login(user)

    for action in UserAdmin.actions:
        response = run_action(client, action, target)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    target.refresh_from_db()
    assert target.is_code_locked()
    assert target.code_failures == 3
    assert not AuthEvent.objects.exists()


def test_anonymous_cannot_run_the_actions(client, user):
    lock(user)

    response = run_action(client, "unlock_second_factor", user)

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_code_locked()


def test_staff_without_permissions_cannot_see_events_or_sms(client, make_user):
    helper = make_user("helper@example.com", is_staff=True)
    client.force_login(helper)

    for url in (USERS_URL, EVENTS_URL, SMS_URL):
        assert client.get(url).status_code == 403, url


def test_view_only_staff_cannot_run_the_actions(client, make_user):
    """Unlocking, resetting and signing out change a user: they need the change permission."""
    helper = make_user("helper@example.com", is_staff=True)
    helper.user_permissions.add(Permission.objects.get(codename="view_user"))
    target = lock(make_user("target@example.com"), failures=3)
    client.force_login(helper)
    assert client.get(USERS_URL).status_code == 200

    for action in UserAdmin.actions:
        run_action(client, action, target)

    target.refresh_from_db()
    assert target.is_code_locked()
    assert target.code_failures == 3
    assert not AuthEvent.objects.exists()
