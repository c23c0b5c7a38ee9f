"""Forms: thin wrappers that validate input; rules live in accounts.services."""

import re

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, AuthenticationForm, UserChangeForm

from .exceptions import InvalidCredentials, LoginError
from .models import User
from .phone import MAX_INPUT_LENGTH, normalize_sms_number
from .services.login import password_authenticate

CODE_SEPARATORS = re.compile(r"[\s\-‐‑–—]+")
CODE_MAX_INPUT = 64


class EmailAuthenticationForm(AuthenticationForm):
    """Django's AuthenticationForm with email as the login and one message for every miss."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Please enter a correct email address and password.",
    }

    def __init__(self, request=None, *args, **kwargs) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "Email address"
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "inputmode": "email", "spellcheck": "false"}
        )

    def clean(self) -> dict:
        """Authenticate through the limits of services.login.password_authenticate.

        Raises ValidationError with code "invalid_login" for a wrong email or password and
        "limited" when a limit refused the attempt.
        """
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            try:
                self.user_cache = password_authenticate(
                    request=self.request, email=email, password=password
                )
            except InvalidCredentials as err:
                raise self.get_invalid_login_error() from err
            except LoginError as err:
                raise forms.ValidationError(err.message, code="limited") from err
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data

    def was_limited(self) -> bool:
        """Tell whether a limit (not a wrong password) refused this attempt."""
        return self.has_error(forms.forms.NON_FIELD_ERRORS, code="limited")


class VerifyCodeForm(forms.Form):
    """The code from the SMS; spaces and dashes are dropped, only ASCII digits pass."""

    code = forms.CharField(
        label="Code from the SMS",
        max_length=CODE_MAX_INPUT,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )

    remember = forms.BooleanField(
        label="Don't ask for a code on this browser for 30 days",
        required=False,
    )
    source = "the SMS"

    def __init__(self, *args, code_length: int, allow_remember: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.code_length = code_length
        if not allow_remember:
            del self.fields["remember"]

    def clean_code(self) -> str:
        """Return the code as ASCII digits; raises ValidationError with a plain message."""
        value = CODE_SEPARATORS.sub("", self.cleaned_data["code"])
        if not re.fullmatch(r"[0-9]+", value, flags=re.ASCII) or len(value) != self.code_length:
            raise forms.ValidationError(
                f"Enter the {self.code_length}-digit code from {self.source}, "
                "using the digits 0-9.",
                code="format",
            )
        return value


class TotpCodeForm(VerifyCodeForm):
    """The 6-digit code shown by the authenticator app."""

    source = "your authenticator app"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, code_length=6, **kwargs)
        self.fields["code"].label = "Code from your authenticator app"


class RecoveryCodeForm(forms.Form):
    """One recovery code, as printed: xxxx-xxxx-xxxx-xxxx."""

    code = forms.CharField(
        label="Recovery code",
        max_length=CODE_MAX_INPUT,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )

    def clean_code(self) -> str:
        """Return the code in lower case; raises ValidationError unless it has the format."""
        value = CODE_SEPARATORS.sub("", self.cleaned_data["code"]).lower()
        if not re.fullmatch(r"[a-z2-7]{16}", value, flags=re.ASCII):
            raise forms.ValidationError(
                "Enter a recovery code like abcd-efgh-ijkl-mnop.", code="format"
            )
        return value


class PhoneNumberForm(forms.Form):
    """A mobile number that may receive codes, normalised to E.164."""

    phone_number = forms.CharField(
        label="Mobile phone number",
        max_length=MAX_INPUT_LENGTH,
        help_text="For example +49 151 23456789.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def clean_phone_number(self) -> str:
        """Return the number in E.164; raises ValidationError with the reason otherwise."""
        return normalize_sms_number(self.cleaned_data["phone_number"])


class ReauthForm(forms.Form):
    """Password plus a current second factor, before a sensitive change."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label="Code from your authenticator app or from the SMS",
        max_length=CODE_MAX_INPUT,
        widget=VerifyCodeForm.base_fields["code"].widget,
    )

    def clean_code(self) -> str:
        value = CODE_SEPARATORS.sub("", self.cleaned_data["code"])
        if not re.fullmatch(r"[0-9]{6,8}", value, flags=re.ASCII):
            raise forms.ValidationError("Enter the code using the digits 0-9.", code="format")
        return value


class UserAdminCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "phone_number")


class UserAdminChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
