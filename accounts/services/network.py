"""Who is asking: the client IP (trusting X-Forwarded-For only from configured proxies)."""

import ipaddress
from functools import lru_cache

from django.http import HttpRequest

from .. import conf

USER_AGENT_MAX = 300


@lru_cache(maxsize=16)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress._BaseNetwork, ...]:
    """Return the configured proxies as networks (a bare IP becomes a /32 or /128).

    Malformed entries are skipped here; system check accounts.E009 reports them.
    """
    networks = []
    for entry in proxies:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            continue
    return tuple(networks)


def parse_ip(value: str) -> ipaddress._BaseAddress | None:
    """Return `value` as an IP address, or None when it is not one."""
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's IP address, or None when it cannot be told.

    X-Forwarded-For is read from right to left, and only while each hop is a trusted proxy:
    the first address not in TRUSTED_PROXIES is the client. Without trusted proxies the
    header is ignored and REMOTE_ADDR is the client.
    """
    networks = trusted_networks(conf.abuse_limits().trusted_proxies)
    remote = parse_ip(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return None
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    current = remote
    while networks and any(current in net for net in networks) and hops:
        candidate = parse_ip(hops.pop())
        if candidate is None:
            break
        current = candidate
    return str(current)


def user_agent(request: HttpRequest) -> str:
    """Return the User-Agent header, cut to what the audit trail stores."""
    return request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX]
