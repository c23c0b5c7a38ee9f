"""URL configuration. The sign-in URLs under /accounts/ are fixed: other tools rely on them."""

from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
    path("", account_views.HomeView.as_view(), name="home"),
    path("accounts/", include("accounts.urls")),
    # Must come before admin.site.urls: the admin's own password-only login is never served.
    path("admin/login/", account_views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
]
