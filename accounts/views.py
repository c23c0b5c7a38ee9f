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

from . import conf
from .exceptions import (
    LoginError,
    PendingLoginMissing,
    PhoneNumberMissing,
    SmsConfigurationError,
    SmsDeliveryError,
)
from .forms import EmailAuthenticationForm, VerifyCodeForm
from .services.codes import send_status
from .services.login import (
    login_code_send,
    login_complete,
    login_start,
    pending_user,
    request_domain,
    safe_next_url,
)
from .services.pending import pending_login_clear, pending_login_get

SMS_FAILED = "We could not send the SMS. Please try again in a minute."
CODE_SENT = "We sent a new code to your phone."


class PasswordLoginView(auth_views.LoginView):
    """Step 1: email and password. Success sends a code instead of signing in."""

    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form: EmailAuthenticationForm) -> HttpResponse:
        try:
            login_start(
                request=self.request, user=form.get_user(), next_url=self.get_redirect_url()
            )
        except PhoneNumberMissing:
            return render(self.request, "accounts/no_phone.html")
        except (SmsDeliveryError, SmsConfigurationError):
            messages.error(self.request, SMS_FAILED)
        return redirect("accounts:verify")


class PendingLoginMixin:
    """Loads the session's pending login into `self.pending`, or redirects to step 1."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.pending = pending_login_get(request)
        if self.pending is None:
            if request.method == "POST":
                messages.error(request, PendingLoginMissing.message)
            return redirect("accounts:login")
        return super().dispatch(request, *args, **kwargs)


@method_decorator([sensitive_post_parameters("code"), csrf_protect, never_cache], "dispatch")
class VerifyCodeView(PendingLoginMixin, FormView):
    """Step 2: the code from the SMS. A right code signs the user in."""

    template_name = "accounts/verify.html"
    form_class = VerifyCodeForm

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "code_length": conf.login_code_settings().length}

    def get_context_data(self, **kwargs) -> dict:
        user = pending_user(self.pending)
        return {
            **super().get_context_data(**kwargs),
            "masked_phone_number": user.masked_phone_number,
            "send_status": send_status(user=user, challenge=self.pending.challenge),
        }

    def form_valid(self, form: VerifyCodeForm) -> HttpResponse:
        try:
            next_url = login_complete(
                request=self.request, pending=self.pending, code=form.cleaned_data["code"]
            )
        except PendingLoginMissing as err:
            pending_login_clear(self.request)
            messages.error(self.request, err.message)
            return redirect("accounts:login")
        except LoginError as err:
            form.add_error("code", err.message)
            return self.form_invalid(form)
        # Not redirect(): it would read a URL such as "home" as a view name.
        return HttpResponseRedirect(next_url or resolve_url("home"))


@method_decorator([csrf_protect, never_cache, require_POST], "dispatch")
class ResendCodeView(PendingLoginMixin, TemplateView):
    """ "Send a new code" on the verify page; always answers with a redirect back to it."""

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            user = pending_user(self.pending)
            login_code_send(
                user=user, challenge=self.pending.challenge, host=request_domain(request)
            )
        except PendingLoginMissing as err:
            pending_login_clear(request)
            messages.error(request, err.message)
            return redirect("accounts:login")
        except LoginError as err:
            messages.error(request, err.message)
        except (SmsDeliveryError, SmsConfigurationError):
            messages.error(request, SMS_FAILED)
        else:
            messages.success(request, CODE_SENT)
        return redirect("accounts:verify")


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
