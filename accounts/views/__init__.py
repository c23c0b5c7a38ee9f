"""Views of the accounts app, by area: sign-in, the security page, and password reset."""

from .login import (
    EnrollPhoneView,
    HomeView,
    PasswordLoginView,
    ResendCodeView,
    VerifyCodeView,
    VerifyRecoveryView,
    VerifyTotpView,
    admin_login,
)
from .password import PasswordResetConfirmView, PasswordResetDoneView, PasswordResetView
from .security import (
    PasswordChangeView,
    PhoneChangeVerifyView,
    PhoneChangeView,
    ReauthView,
    RecoveryCodesView,
    SecurityView,
    TotpRemoveView,
    TotpSetupView,
    TrustedBrowserRevokeView,
)

__all__ = [
    "EnrollPhoneView",
    "HomeView",
    "PasswordChangeView",
    "PasswordLoginView",
    "PasswordResetConfirmView",
    "PasswordResetDoneView",
    "PasswordResetView",
    "PhoneChangeVerifyView",
    "PhoneChangeView",
    "ReauthView",
    "RecoveryCodesView",
    "ResendCodeView",
    "SecurityView",
    "TotpRemoveView",
    "TotpSetupView",
    "TrustedBrowserRevokeView",
    "VerifyCodeView",
    "VerifyRecoveryView",
    "VerifyTotpView",
    "admin_login",
]
