"""Views of the sign-in flow. Each one checks input with a form and calls one service."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django.views.generic import FormView, TemplateView

from .. import conf
from ..exceptions import (
    LimitReached,
    LoginError,
    PendingLoginMissing,
    SecondFactorLocked,
    SmsConfigurationError,
    SmsDeliveryError,
)
from ..forms import (
    EmailAuthenticationForm,
    PhoneNumberForm,
    RecoveryCodeForm,
    TotpCodeForm,
    VerifyCodeForm,
)
from ..phone import mask_phone_number
from ..services.code_delivery import login_code_send, request_domain
from ..services.codes import send_status
from ..services.lockout import second_factor_lock_check
from ..services.login import (
    NextStep,
    complete_with_recovery,
    complete_with_sms,
    complete_with_totp,
    login_start,
    pending_user,
    safe_next_url,
)
from ..services.pending import pending_login_clear, pending_login_get, pending_login_set_phone
from ..services.recovery import recovery_codes_left
from ..services.totp import totp_device
from ..services.trusted import trusted_browser_add

SMS_FAILED = "We could not send the SMS. Please try again in a minute."
CODE_SENT = "We sent a new code to your phone."
NEXT_STEP_URLS = {
    NextStep.VERIFY_SMS: "accounts:verify",
    NextStep.VERIFY_TOTP: "accounts:verify_totp",
    NextStep.ENROLL: "accounts:enroll",
}
sensitive_code_post = method_decorator(
    [sensitive_post_parameters("code"), csrf_protect, never_cache], "dispatch"
)


class PasswordLoginView(auth_views.LoginView):
    """Step 1: email and password. Success starts the second step instead of signing in."""

    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form: EmailAuthenticationForm) -> HttpResponse:
        next_url = self.get_redirect_url()
        try:
            step = login_start(request=self.request, user=form.get_user(), next_url=next_url)
        except LoginError as err:
            messages.error(self.request, err.message)
            step = NextStep.VERIFY_SMS
        except (SmsDeliveryError, SmsConfigurationError):
            messages.error(self.request, SMS_FAILED)
            step = NextStep.VERIFY_SMS
        if step is NextStep.SIGNED_IN:
            return HttpResponseRedirect(next_url or resolve_url("home"))
        return redirect(NEXT_STEP_URLS[step])

    def get_context_data(self, **kwargs) -> dict:
        # LoginView puts the request's host in as "site_name"; the pages mean ours.
        return {**super().get_context_data(**kwargs), "site_name": conf.site_name()}

    def form_invalid(self, form: EmailAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.was_limited():
            response.status_code = 429
        return response


class PendingLoginMixin:
    """Loads the session's pending login into `self.pending` and its user into
    `self.pending_account`, or sends the browser back to step 1."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.pending = pending_login_get(request)
        if self.pending is None:
            if request.method == "POST":
                messages.error(request, PendingLoginMissing.message)
            return redirect("accounts:login")
        try:
            self.pending_account = pending_user(self.pending)
        except PendingLoginMissing as err:
            return restart_login(request, err)
        return super().dispatch(request, *args, **kwargs)

    def signed_in_response(self, form, user) -> HttpResponse:
        """Redirect to the pending login's `next`, remembering the browser if asked to."""
        target = safe_next_url(self.request, self.pending.next_url) or resolve_url("home")
        # Not redirect(): it would read a URL such as "home" as a view name.
        response = HttpResponseRedirect(target)
        if form.cleaned_data.get("remember"):
            trusted_browser_add(request=self.request, response=response, user=user)
        return response

    def code_refused(self, form, err: LoginError) -> HttpResponse:
        """Show why the code did not pass; a limit answers 429 Too Many Requests."""
        # A lock is shown once, above the form, as the page's "locked_message"; this very
        # failure may have started it.
        self.pending_account.refresh_from_db(fields=["locked_until"])
        if not isinstance(err, SecondFactorLocked):
            form.add_error("code", err.message)
        response = self.form_invalid(form)
        if isinstance(err, LimitReached):
            response.status_code = 429
        return response

    def other_methods(self, user) -> dict:
        """Return which other second factors the verify pages may offer."""
        return {
            "has_totp": totp_device(user) is not None,
            "has_recovery": recovery_codes_left(user) > 0,
            "has_phone": bool(self.pending.phone_number),
        }


class SecondStepView(PendingLoginMixin, FormView):
    """A page of step 2: one code form whose `complete` service signs the user in."""

    complete = None  # a services.login.complete_with_* function

    def get_context_data(self, **kwargs) -> dict:
        user = self.pending_account
        return {
            **super().get_context_data(**kwargs),
            **self.other_methods(user),
            "locked_message": lock_message(user),
        }

    def form_valid(self, form) -> HttpResponse:
        try:
            user = type(self).complete(
                request=self.request, pending=self.pending, code=form.cleaned_data["code"]
            )
        except PendingLoginMissing as err:
            return restart_login(self.request, err)
        except LoginError as err:
            return self.code_refused(form, err)
        self.after_sign_in(user)
        return self.signed_in_response(form, user)

    def after_sign_in(self, user) -> None:
        """Hook for what a method shows after a successful sign-in."""


@sensitive_code_post
class VerifyCodeView(SecondStepView):
    """Step 2 by SMS: the code from the SMS. A right code signs the user in."""

    template_name = "accounts/verify.html"
    form_class = VerifyCodeForm
    complete = complete_with_sms

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        pending = pending_login_get(request)
        if pending is not None and pending.enrolling and not pending.phone_number:
            return redirect("accounts:enroll")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict:
        return {
            **super().get_form_kwargs(),
            "code_length": conf.login_code_settings().length,
            "allow_remember": not self.pending.enrolling,
        }

    def get_context_data(self, **kwargs) -> dict:
        user = self.pending_account
        return {
            **super().get_context_data(**kwargs),
            "masked_phone_number": mask_phone_number(self.pending.phone_number),
            "enrolling": self.pending.enrolling,
            "send_status": send_status(user=user, challenge=self.pending.challenge),
        }


@sensitive_code_post
class VerifyTotpView(SecondStepView):
    """Step 2 by authenticator app."""

    template_name = "accounts/verify_totp.html"
    form_class = TotpCodeForm
    complete = complete_with_totp


@sensitive_code_post
class VerifyRecoveryView(SecondStepView):
    """Step 2 with a recovery code; warns how many remain."""

    template_name = "accounts/verify_recovery.html"
    form_class = RecoveryCodeForm
    complete = complete_with_recovery

    def after_sign_in(self, user) -> None:
        remaining = recovery_codes_left(user)
        level = messages.WARNING if remaining <= 3 else messages.INFO
        messages.add_message(
            self.request,
            level,
            f"You signed in with a recovery code. You have {remaining} recovery code"
            f"{'s' if remaining != 1 else ''} left. You can make new ones on your security page.",
        )


@sensitive_code_post
class EnrollPhoneView(PendingLoginMixin, FormView):
    """First-time setup: the user enters (or confirms) the mobile number for codes."""

    template_name = "accounts/enroll.html"
    form_class = PhoneNumberForm

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        pending = pending_login_get(request)
        if pending is not None and not pending.enrolling:
            return redirect("accounts:verify")
        return super().dispatch(request, *args, **kwargs)

    def preset_number(self) -> str:
        """Return the number an administrator set, which the user may only confirm."""
        return self.pending_account.phone_number

    def get_initial(self) -> dict:
        return {"phone_number": self.preset_number()}

    def get_form(self, form_class=None) -> PhoneNumberForm:
        form = super().get_form(form_class)
        if self.preset_number():
            form.fields["phone_number"].disabled = True
        return form

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), "preset": bool(self.preset_number())}

    def form_valid(self, form: PhoneNumberForm) -> HttpResponse:
        phone = form.cleaned_data["phone_number"]
        try:
            login_code_send(
                user=self.pending_account,
                challenge=self.pending.challenge,
                host=request_domain(self.request),
                request=self.request,
                phone_number=phone,
            )
        except LoginError as err:
            # Refused before anything was sent: the earlier number and its code stay as they were.
            form.add_error("phone_number", err.message)
            return self.form_invalid(form)
        except (SmsDeliveryError, SmsConfigurationError):
            # The new code was voided, and so was any earlier one: no code can confirm the
            # wrong number, and "send a new code" goes to the number just typed.
            messages.error(self.request, SMS_FAILED)
        pending_login_set_phone(self.request, self.pending, phone)
        return redirect("accounts:verify")


@method_decorator([csrf_protect, never_cache, require_POST], "dispatch")
class ResendCodeView(PendingLoginMixin, TemplateView):
    """ "Send a new code" on the verify pages; always answers with a redirect to the SMS page."""

    def post(self, request: HttpRequest) -> HttpResponse:
        if not self.pending.phone_number:
            return redirect("accounts:enroll" if self.pending.enrolling else "accounts:verify")
        try:
            login_code_send(
                user=self.pending_account,
                challenge=self.pending.challenge,
                host=request_domain(request),
                request=request,
                phone_number=self.pending.phone_number,
            )
        except LoginError as err:
            messages.error(request, err.message)
        except (SmsDeliveryError, SmsConfigurationError):
            messages.error(request, SMS_FAILED)
        else:
            messages.success(request, CODE_SENT)
        return redirect("accounts:verify")


def lock_message(user) -> str:
    """Return the "temporarily blocked" text while the user's second factor is locked."""
    try:
        second_factor_lock_check(user)
    except SecondFactorLocked as err:
        return err.message
    return ""


def restart_login(request: HttpRequest, err: LoginError) -> HttpResponse:
    """Drop the pending login and send the browser back to step 1 with the reason."""
    pending_login_clear(request)
    messages.error(request, err.message)
    return redirect("accounts:login")


@method_decorator(never_cache, "dispatch")
class HomeView(LoginRequiredMixin, TemplateView):
    template_name = "home.html"


@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    """Replace the admin's password-only login: send everyone through the two-step flow."""
    next_url = safe_next_url(request, request.GET.get("next", "")) or reverse("admin:index")
    if request.user.is_authenticated:
        if request.user.is_active and request.user.is_staff:
            return HttpResponseRedirect(next_url)
        return render(request, "accounts/admin_denied.html", status=403)
    return auth_views.redirect_to_login(next_url, resolve_url("accounts:login"))
