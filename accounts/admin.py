"""Admin for users and (read-only) login codes. Hashes are never shown."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .forms import UserAdminChangeForm, UserAdminCreationForm
from .models import LoginCode, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    list_display = ("email", "masked_phone", "is_staff", "is_active", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email",)
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Second factor", {"fields": ("phone_number",)}),
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

    @admin.display(description="phone number")
    def masked_phone(self, user: User) -> str:
        return user.masked_phone_number


@admin.register(LoginCode)
class LoginCodeAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
