"""Admin for users, login codes, the audit trail and SMS sent. Hashes are never shown."""

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .forms import UserAdminChangeForm, UserAdminCreationForm
from .models import AuthEvent, LoginCode, SmsSend, User
from .phone import mask_phone_number
from .services.audit import Kind, event_record
from .services.factors import factors_reset
from .services.lockout import second_factor_reset, second_factor_unlock, sessions_end_everywhere
from .services.trusted import trusted_browsers_active, trusted_browsers_revoke


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the application: staff may look, never add, change or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # The trail and the counters behind the limits are trimmed only by the purge commands.
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    list_display = (
        "email",
        "masked_phone",
        "is_staff",
        "is_active",
        "last_login",
        "lock_state",
        "factors",
        "sms_last_day",
    )
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email",)
    ordering = ("email",)
    readonly_fields = (
        "last_login",
        "date_joined",
        "phone_verified_at",
        "code_failures",
        "code_lockouts",
        "locked_until",
        "factors",
        "trusted_browser_list",
    )
    actions = [
        "unlock_second_factor",
        "reset_second_factor",
        "reset_all_factors",
        "revoke_trusted_browsers",
        "end_all_sessions",
    ]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            "Second factor",
            {
                "fields": (
                    "phone_number",
                    "phone_verified_at",
                    "factors",
                    "trusted_browser_list",
                    "locked_until",
                    "code_failures",
                    "code_lockouts",
                )
            },
        ),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "phone_number", "usable_password", "password1", "password2"),
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        since = timezone.now() - timedelta(days=1)
        return (
            super()
            .get_queryset(request)
            .annotate(
                sms_count=Count("smssend", filter=Q(smssend__created_at__gt=since), distinct=True),
                recovery_left=Count(
                    "recovery_codes", filter=Q(recovery_codes__used_at__isnull=True), distinct=True
                ),
            )
            .select_related("totp_device")
        )

    @admin.display(description="factors")
    def factors(self, user: User) -> str:
        phone = "phone verified" if user.has_verified_phone else "phone not verified"
        device = getattr(user, "totp_device", None)
        totp = "app on" if device is not None and device.confirmed_at else "app off"
        left = getattr(user, "recovery_left", None)
        if left is None:
            left = user.recovery_codes.filter(used_at__isnull=True).count()
        return f"{phone}, {totp}, {left} recovery codes"

    @admin.display(description="remembered browsers")
    def trusted_browser_list(self, user: User) -> str:
        browsers = trusted_browsers_active(user)
        return "; ".join(b.user_agent[:40] or "unknown browser" for b in browsers) or "none"

    @admin.display(description="phone number")
    def masked_phone(self, user: User) -> str:
        return user.masked_phone_number

    @admin.display(description="second factor")
    def lock_state(self, user: User) -> str:
        if user.is_code_locked():
            return f"locked until {timezone.localtime(user.locked_until):%Y-%m-%d %H:%M}"
        return "ok"

    @admin.display(description="SMS in 24 h", ordering="sms_count")
    def sms_last_day(self, user: User) -> int:
        return user.sms_count

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Compare stored values: "0151 234 567 89" retyped for "+4915123456789" is no change.
        if change and form.initial.get("phone_number") != obj.phone_number:
            # A number typed by an admin is confirmed by the user at the next sign-in.
            User.objects.filter(pk=obj.pk).update(phone_verified_at=None)
            event_record(
                Kind.PHONE_CHANGED, request=request, user=obj, detail=f"by admin {request.user}"
            )

    @admin.action(permissions=["change"], description="Unlock the second factor")
    def unlock_second_factor(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply(request, queryset, second_factor_unlock, "unlocked", Kind.UNLOCKED)

    @admin.action(
        permissions=["change"], description="Reset the second factor (unlock, void open codes)"
    )
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply(request, queryset, second_factor_reset, "second factor reset")

    @admin.action(
        permissions=["change"], description="Reset all second factors (forces enrollment)"
    )
    def reset_all_factors(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply(request, queryset, factors_reset, "second factors cleared", Kind.FACTORS_RESET)

    @admin.action(permissions=["change"], description="Forget remembered browsers")
    def revoke_trusted_browsers(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply(
            request,
            queryset,
            trusted_browsers_revoke,
            "remembered browsers revoked",
            Kind.TRUSTED_BROWSER_REVOKED,
        )

    @admin.action(permissions=["change"], description="Sign out of all sessions")
    def end_all_sessions(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply(request, queryset, sessions_end_everywhere, "signed out everywhere")

    def apply(self, request, queryset, operation, done: str, kind: str = Kind.ADMIN_ACTION):
        """Run `operation` on each selected user, audit it, and report how many."""
        for user in queryset:
            operation(user)
            event_record(
                kind, request=request, user=user, detail=f"{done} by admin {request.user}"
            )
        messages.success(request, f"{queryset.count()} user(s) {done}.")


@admin.register(LoginCode)
class LoginCodeAdmin(ReadOnlyAdmin):
    list_display = ("user", "created_at", "expires_at", "attempts", "state_display")
    list_filter = ("created_at",)
    search_fields = ("user__email",)
    fields = (
        "user",
        "created_at",
        "expires_at",
        "attempts",
        "used_at",
        "voided_at",
        "state_display",
    )
    readonly_fields = fields
    date_hierarchy = "created_at"
    list_select_related = ("user",)

    @admin.display(description="state")
    def state_display(self, code: LoginCode) -> str:
        return code.state()


@admin.register(AuthEvent)
class AuthEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "user", "ip_address", "detail")
    list_filter = ("kind", "created_at", "user__is_staff")
    search_fields = ("user__email",)
    fields = ("created_at", "kind", "user", "ip_address", "user_agent", "detail")
    readonly_fields = fields
    date_hierarchy = "created_at"
    list_select_related = ("user",)

    def lookup_allowed(self, lookup: str, value: str, request=None) -> bool:
        # Filtering by one user is done with ?user__id__exact=N (linked from the user list).
        return lookup in {"user__id__exact", "user"} or super().lookup_allowed(
            lookup, value, request
        )


@admin.register(SmsSend)
class SmsSendAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "purpose", "masked_phone", "user", "delivered")
    list_filter = ("purpose", "delivered", "created_at")
    search_fields = ("user__email",)
    fields = ("created_at", "purpose", "masked_phone", "user", "delivered")
    readonly_fields = fields
    date_hierarchy = "created_at"
    list_select_related = ("user",)

    @admin.display(description="phone number")
    def masked_phone(self, send: SmsSend) -> str:
        return mask_phone_number(send.phone_number)
