"""The account's security page and the changes made from it.

Adding or removing a factor and changing the phone need a recent re-authentication
(password plus a current second factor); revoking a remembered browser does not, since it
only takes access away.
"""

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView

from ..exceptions import LoginError, PendingLoginMissing, SmsConfigurationError, SmsDeliveryError
from ..forms import PhoneNumberForm, ReauthForm, TotpCodeForm
from ..models import AuthEvent
from ..phone import mask_phone_number
from ..services.audit import Kind, event_record
from ..services.login import password_failed, password_guard
from ..services.phone_change import phone_change_begin, phone_change_complete, phone_change_pending
from ..services.reauth import reauth_confirm, reauth_is_recent, reauth_send_code
from ..services.recovery import recovery_codes_generate, recovery_codes_left
from ..services.throttles import password_success_record
from ..services.totp import (
    totp_begin,
    totp_device,
    totp_qr_svg,
    totp_remove,
    totp_unconfirmed,
    totp_verify,
)
from ..services.trusted import trusted_browsers_active, trusted_browsers_revoke
from .login import SMS_FAILED, safe_next_url

RECENT_EVENTS = 10


class SecurityMixin(LoginRequiredMixin):
    """Signed-in pages that are never cached."""

    @method_decorator(never_cache)
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return super().dispatch(request, *args, **kwargs)


class ReauthRequiredMixin(SecurityMixin):
    """Sends the user to re-authenticate first unless they did so a moment ago.

    Afterwards the browser comes back to `reauth_return_url` (default: this page).
    """

    reauth_return_url = None

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and not reauth_is_recent(request):
            back = str(self.reauth_return_url or request.path)
            return redirect(f"{reverse('accounts:reauth')}?next={quote(back)}")
        return super().dispatch(request, *args, **kwargs)


class SecurityView(SecurityMixin, TemplateView):
    template_name = "accounts/security.html"

    def get_context_data(self, **kwargs) -> dict:
        user = self.request.user
        return {
            **super().get_context_data(**kwargs),
            "totp_enabled": totp_device(user) is not None,
            "recovery_left": recovery_codes_left(user),
            "browsers": trusted_browsers_active(user),
            "events": AuthEvent.objects.filter(user=user)[:RECENT_EVENTS],
        }


@method_decorator(sensitive_post_parameters("password", "code"), "dispatch")
class ReauthView(SecurityMixin, FormView):
    """Password plus a current second factor; then on to the sensitive page in `next`."""

    template_name = "accounts/reauth.html"
    form_class = ReauthForm

    def get_context_data(self, **kwargs) -> dict:
        user = self.request.user
        return {
            **super().get_context_data(**kwargs),
            "totp_enabled": totp_device(user) is not None,
            "has_phone": user.has_verified_phone,
            "masked_phone_number": user.masked_phone_number,
            "next": self.next_url(),
        }

    def next_url(self) -> str:
        raw = self.request.POST.get("next") or self.request.GET.get("next", "")
        return safe_next_url(self.request, raw) or reverse("accounts:security")

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if "send_code" in request.POST:
            return self.send_code()
        return super().post(request, *args, **kwargs)

    def send_code(self) -> HttpResponse:
        try:
            reauth_send_code(request=self.request, user=self.request.user)
        except LoginError as err:
            messages.error(self.request, err.message)
        except (SmsDeliveryError, SmsConfigurationError):
            messages.error(self.request, SMS_FAILED)
        else:
            messages.success(self.request, "We sent a code to your phone.")
        return redirect(f"{reverse('accounts:reauth')}?next={quote(self.next_url())}")

    def form_valid(self, form: ReauthForm) -> HttpResponse:
        try:
            reauth_confirm(
                request=self.request,
                user=self.request.user,
                password=form.cleaned_data["password"],
                code=form.cleaned_data["code"],
            )
        except LoginError as err:
            form.add_error(None, err.message)
            return self.form_invalid(form)
        return redirect(self.next_url())


@method_decorator(sensitive_post_parameters("code"), "dispatch")
class PhoneChangeView(ReauthRequiredMixin, FormView):
    """Step 1 of a phone change: the new number, which gets a code."""

    template_name = "accounts/phone_change.html"
    form_class = PhoneNumberForm

    def form_valid(self, form: PhoneNumberForm) -> HttpResponse:
        try:
            phone_change_begin(
                request=self.request,
                user=self.request.user,
                phone=form.cleaned_data["phone_number"],
            )
        except LoginError as err:
            form.add_error("phone_number", err.message)
            return self.form_invalid(form)
        except (SmsDeliveryError, SmsConfigurationError):
            form.add_error("phone_number", SMS_FAILED)
            return self.form_invalid(form)
        return redirect("accounts:phone_change_verify")


@method_decorator(sensitive_post_parameters("code"), "dispatch")
class PhoneChangeVerifyView(ReauthRequiredMixin, FormView):
    """Step 2 of a phone change: the code sent to the new number."""

    template_name = "accounts/phone_change_verify.html"
    form_class = TotpCodeForm

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not (phone_change_pending(request) or {}).get("phone"):
            return redirect("accounts:phone_change")
        return super().get(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "allow_remember": False}

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        form.fields["code"].label = "Code from the SMS to your new number"
        form.source = "the SMS"
        return form

    def get_context_data(self, **kwargs) -> dict:
        state = phone_change_pending(self.request) or {}
        return {
            **super().get_context_data(**kwargs),
            "masked_phone_number": mask_phone_number(state.get("phone", "")),
        }

    def form_valid(self, form) -> HttpResponse:
        try:
            phone_change_complete(
                request=self.request, user=self.request.user, code=form.cleaned_data["code"]
            )
        except PendingLoginMissing as err:
            messages.error(self.request, err.message)
            return redirect("accounts:phone_change")
        except LoginError as err:
            form.add_error("code", err.message)
            return self.form_invalid(form)
        messages.success(
            self.request,
            "Your phone number was changed. Your other sessions and remembered browsers "
            "were signed out.",
        )
        return redirect("accounts:security")


@method_decorator(sensitive_post_parameters("code"), "dispatch")
class TotpSetupView(ReauthRequiredMixin, FormView):
    """Add an authenticator app: scan the QR code (or type the secret), confirm one code."""

    template_name = "accounts/totp_setup.html"
    form_class = TotpCodeForm

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and totp_device(request.user) is not None:
            messages.info(request, "An authenticator app is already set up.")
            return redirect("accounts:security")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "allow_remember": False}

    def get_context_data(self, **kwargs) -> dict:
        device = totp_unconfirmed(self.request.user) or totp_begin(self.request.user)
        return {
            **super().get_context_data(**kwargs),
            "qr_svg": totp_qr_svg(device),
            "secret": " ".join(device.secret[i : i + 4] for i in range(0, len(device.secret), 4)),
        }

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        totp_begin(request.user)
        return super().get(request, *args, **kwargs)

    def form_valid(self, form: TotpCodeForm) -> HttpResponse:
        if not totp_verify(
            user=self.request.user, code=form.cleaned_data["code"], confirmed=False
        ):
            form.add_error("code", "That code is not right. Check the time on your phone.")
            return self.form_invalid(form)
        event_record(Kind.TOTP_ENABLED, request=self.request, user=self.request.user)
        messages.success(self.request, "Your authenticator app is set up.")
        return redirect("accounts:security")


class TotpRemoveView(ReauthRequiredMixin, View):
    http_method_names = ["post"]
    # The removal is a POST, which cannot be replayed after the detour.
    reauth_return_url = reverse_lazy("accounts:security")

    def post(self, request: HttpRequest) -> HttpResponse:
        if totp_remove(request.user):
            event_record(Kind.TOTP_REMOVED, request=request, user=request.user)
            messages.success(request, "Your authenticator app was removed.")
        return redirect("accounts:security")


class RecoveryCodesView(ReauthRequiredMixin, View):
    """POST makes a new set (voiding the old one) and shows it once, with a download."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "accounts/recovery_codes.html", {"codes": None})

    def post(self, request: HttpRequest) -> HttpResponse:
        codes = recovery_codes_generate(request.user)
        event_record(Kind.RECOVERY_GENERATED, request=request, user=request.user)
        text = "\n".join(codes) + "\n"
        return render(
            request,
            "accounts/recovery_codes.html",
            {"codes": codes, "download": "data:text/plain;charset=utf-8," + quote(text)},
        )


class TrustedBrowserRevokeView(SecurityMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, browser_id: int) -> HttpResponse:
        if trusted_browsers_revoke(request.user, browser_id=browser_id):
            event_record(Kind.TRUSTED_BROWSER_REVOKED, request=request, user=request.user)
            messages.success(request, "That browser will be asked for a code again.")
        return redirect("accounts:security")


@method_decorator(sensitive_post_parameters(), "dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view: needs the current password; other sessions end with the old hash.

    Wrong current passwords count like wrong sign-in passwords, so a stolen session cannot
    guess the password without limit.
    """

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:security")

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            password_guard(request=request, email=request.user.email, user=request.user)
        except LoginError as err:
            form = self.get_form()
            form.add_error(None, err.message)
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form) -> HttpResponse:
        if form.has_error("old_password", code="password_incorrect"):
            user = self.request.user
            password_failed(
                request=self.request, email=user.email, user=user, detail="password change"
            )
        return super().form_invalid(form)

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        password_success_record(self.request, self.request.user.email)
        event_record(Kind.PASSWORD_CHANGED, request=self.request, user=self.request.user)
        messages.success(
            self.request, "Your password was changed. Your other sessions were signed out."
        )
        return response
