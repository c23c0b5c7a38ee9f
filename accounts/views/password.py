"""Password reset by email with Django's views, in the site's style.

The reset never reveals whether an email is registered, never signs anyone in, and so
never bypasses the second factor: afterwards the user signs in with password and code.
"""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import reverse_lazy

from .. import conf
from ..exceptions import LimitReached
from ..services.audit import Kind, event_record
from ..services.throttles import client_rate_limit


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    @property
    def extra_email_context(self) -> dict:
        return {"site_name": conf.site_name()}

    def form_valid(self, form) -> HttpResponse:
        # Each request may send an email: the per-IP password limit keeps it from mail-bombing.
        try:
            client_rate_limit(self.request, step="password")
        except LimitReached as err:
            form.add_error(None, err.message)
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:login")
    post_reset_login = False

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        event_record(Kind.PASSWORD_RESET, request=self.request, user=form.user)
        messages.success(
            self.request,
            "Your password was changed. Sign in with it; you will still need your second factor.",
        )
        return response
