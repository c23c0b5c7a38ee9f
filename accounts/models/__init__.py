"""Persistent state of the accounts app, one module per concern."""

from .audit import AuthEvent
from .codes import LoginCode
from .limits import SendGate, SmsSend, Throttle
from .users import User

__all__ = ["AuthEvent", "LoginCode", "SendGate", "SmsSend", "Throttle", "User"]
