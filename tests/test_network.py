"""Who is asking: accounts.services.network.client_ip and the trusted-proxy setting.

X-Forwarded-For is written by whoever sends the request, so it may only be believed hop by
hop, from the right, while each hop is one of TRUSTED_PROXIES.
"""

import pytest
from django.core.checks import run_checks
from django.test import RequestFactory, override_settings

from accounts.services.network import client_ip, user_agent

PROXY = "10.0.0.1"
CLIENT = "203.0.113.7"
SPOOFED = "198.51.100.66"


def request(remote_addr: str | None = PROXY, forwarded_for: str | None = None, **meta):
    """Return a GET request with the given REMOTE_ADDR (None: absent) and X-Forwarded-For."""
    factory_meta = dict(meta)
    if forwarded_for is not None:
        factory_meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    req = RequestFactory().get("/accounts/login/", **factory_meta)
    if remote_addr is None:
        req.META.pop("REMOTE_ADDR", None)
    else:
        req.META["REMOTE_ADDR"] = remote_addr
    return req


# --- without trusted proxies -------------------------------------------------------------


def test_without_forwarded_for_the_remote_address_is_the_client():
    assert client_ip(request(CLIENT)) == CLIENT


@pytest.mark.parametrize(
    "forwarded_for", [SPOOFED, f"{SPOOFED}, {CLIENT}", "127.0.0.1", "  ", "garbage"]
)
def test_forwarded_for_is_ignored_without_trusted_proxies(forwarded_for):
    assert client_ip(request(PROXY, forwarded_for)) == PROXY


@override_settings(TRUSTED_PROXIES=[])
def test_empty_trusted_proxies_setting_ignores_forwarded_for():
    assert client_ip(request(PROXY, SPOOFED)) == PROXY


def test_ipv6_remote_address_is_returned_as_is():
    assert client_ip(request("2001:db8::5")) == "2001:db8::5"


@pytest.mark.parametrize("remote_addr", [None, "", "not-an-ip", "300.1.2.3", "10.0.0.1:8080"])
def test_missing_or_malformed_remote_address_gives_none(remote_addr):
    assert client_ip(request(remote_addr, CLIENT)) is None


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_missing_remote_address_gives_none_even_with_trusted_proxies():
    assert client_ip(request(None, CLIENT)) is None


# --- with trusted proxies ----------------------------------------------------------------


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_trusted_proxy_single_ip_passes_on_the_client():
    assert client_ip(request(PROXY, CLIENT)) == CLIENT


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_forwarded_for_from_an_untrusted_peer_is_ignored():
    assert client_ip(request("10.0.0.2", CLIENT)) == "10.0.0.2"


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_trusted_proxy_without_forwarded_for_is_itself_the_client():
    assert client_ip(request(PROXY)) == PROXY


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
@pytest.mark.parametrize("proxy", ["10.0.0.1", "10.200.3.4", "10.255.255.255"])
def test_trusted_proxy_cidr_covers_every_address_in_it(proxy):
    assert client_ip(request(proxy, CLIENT)) == CLIENT


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_address_outside_the_trusted_cidr_is_not_a_proxy():
    assert client_ip(request("11.0.0.1", CLIENT)) == "11.0.0.1"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_multiple_hops_stop_at_the_first_untrusted_address_from_the_right():
    # The client forged the left-most entry; the proxies appended the rest.
    forwarded = f"{SPOOFED}, {CLIENT}, 10.1.1.1, 10.2.2.2"

    assert client_ip(request(PROXY, forwarded)) == CLIENT


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "192.168.0.0/16"])
def test_multiple_trusted_networks_are_all_skipped():
    forwarded = f"{SPOOFED}, {CLIENT}, 192.168.1.10"

    assert client_ip(request(PROXY, forwarded)) == CLIENT


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_forged_left_entry_is_never_reached_when_one_untrusted_hop_is_between():
    assert client_ip(request(PROXY, f"127.0.0.1, {CLIENT}")) == CLIENT


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_only_trusted_hops_give_the_left_most_address():
    assert client_ip(request(PROXY, "10.9.9.9, 10.8.8.8")) == "10.9.9.9"


@override_settings(TRUSTED_PROXIES=["::1"])
def test_ipv6_proxy_and_ipv6_client():
    assert client_ip(request("::1", "2001:db8::1")) == "2001:db8::1"


@override_settings(TRUSTED_PROXIES=["2001:db8:ffff::/48"])
def test_ipv6_cidr_of_proxies():
    forwarded = f"{SPOOFED}, 2001:db8:1::7, 2001:db8:ffff:1::2"

    assert client_ip(request("2001:db8:ffff::1", forwarded)) == "2001:db8:1::7"


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_ipv4_client_behind_ipv4_proxy_with_spaces_in_the_header():
    assert client_ip(request(PROXY, f"   {CLIENT}   ")) == CLIENT


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_empty_entries_in_forwarded_for_are_skipped():
    assert client_ip(request(PROXY, f"{CLIENT}, , ,")) == CLIENT


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
@pytest.mark.parametrize(
    "garbage", ["unknown", "not-an-ip", "203.0.113.7:4711", "[2001:db8::1]", "999.1.1.1", "_"]
)
def test_garbage_hop_is_never_returned_and_the_last_good_address_counts(garbage):
    # A hop that is no address stops the walk: what the proxy itself saw is the answer.
    assert client_ip(request(PROXY, f"{CLIENT}, {garbage}")) == PROXY
    # Garbage further left than the first untrusted hop does not matter at all.
    assert client_ip(request(PROXY, f"{garbage}, {CLIENT}")) == CLIENT


@override_settings(TRUSTED_PROXIES=[" 10.0.0.1 ", ""])
def test_blank_and_padded_trusted_proxy_entries_are_tolerated():
    assert client_ip(request(PROXY, CLIENT)) == CLIENT


def test_a_malformed_trusted_proxies_entry_is_reported_by_the_system_checks():
    """A typo in TRUSTED_PROXIES must surface at start-up, not as a 500 on every sign-in."""
    with override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "not-a-network"]):
        messages = [str(m) for m in run_checks() if m.is_serious()]

    assert any("TRUSTED_PROXIES" in m for m in messages), messages


@override_settings(TRUSTED_PROXIES=["not-a-network", PROXY, "10.0.0.0/33"])
def test_a_malformed_trusted_proxies_entry_does_not_break_requests():
    assert client_ip(request(PROXY, CLIENT)) == CLIENT
    assert client_ip(request("10.0.0.2", CLIENT)) == "10.0.0.2"


def test_user_agent_is_cut_to_what_the_audit_trail_stores():
    assert user_agent(request(CLIENT, HTTP_USER_AGENT="Browser/1.0")) == "Browser/1.0"
    assert len(user_agent(request(CLIENT, HTTP_USER_AGENT="x" * 1000))) == 300
    assert user_agent(request(CLIENT)) == ""
