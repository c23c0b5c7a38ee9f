"""Persistent state of the accounts app, one module per concern."""

from .audit import AuthEvent
from .codes import LoginCode
from .factors import RecoveryCode, TotpDevice, TrustedBrowser
from .limits import SendGate, SmsSend, Throttle
from .users import User

__all__ = [
    "AuthEvent",
    "LoginCode",
    "RecoveryCode",
    "SendGate",
    "SmsSend",
    "Throttle",
    "TotpDevice",
    "TrustedBrowser",
    "User",
]
