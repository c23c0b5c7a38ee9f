from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.PasswordLoginView.as_view(), name="login"),
    path("login/verify/", views.VerifyCodeView.as_view(), name="verify"),
    path("login/verify/totp/", views.VerifyTotpView.as_view(), name="verify_totp"),
    path("login/verify/recovery/", views.VerifyRecoveryView.as_view(), name="verify_recovery"),
    path("login/resend/", views.ResendCodeView.as_view(), name="resend"),
    path("enroll/", views.EnrollPhoneView.as_view(), name="enroll"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("security/", views.SecurityView.as_view(), name="security"),
    path("security/confirm/", views.ReauthView.as_view(), name="reauth"),
    path("security/phone/", views.PhoneChangeView.as_view(), name="phone_change"),
    path(
        "security/phone/verify/",
        views.PhoneChangeVerifyView.as_view(),
        name="phone_change_verify",
    ),
    path("security/totp/", views.TotpSetupView.as_view(), name="totp_setup"),
    path("security/totp/remove/", views.TotpRemoveView.as_view(), name="totp_remove"),
    path("security/recovery/", views.RecoveryCodesView.as_view(), name="recovery_codes"),
    path(
        "security/browsers/<int:browser_id>/revoke/",
        views.TrustedBrowserRevokeView.as_view(),
        name="browser_revoke",
    ),
    path("security/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
]
