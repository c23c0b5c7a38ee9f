"""Forms: thin wrappers that validate input; rules live in accounts.services."""

import re

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, AuthenticationForm, UserChangeForm

from .exceptions import InvalidCredentials, LoginError
from .models import User
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

    def __init__(self, *args, code_length: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.code_length = code_length

    def clean_code(self) -> str:
        """Return the code as ASCII digits; raises ValidationError with a plain message."""
        value = CODE_SEPARATORS.sub("", self.cleaned_data["code"])
        if not re.fullmatch(r"[0-9]+", value, flags=re.ASCII) or len(value) != self.code_length:
            raise forms.ValidationError(
                f"Enter the {self.code_length}-digit code from the SMS, using the digits 0-9.",
                code="format",
            )
        return value


class UserAdminCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "phone_number")


class UserAdminChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
