from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.PasswordLoginView.as_view(), name="login"),
    path("login/verify/", views.VerifyCodeView.as_view(), name="verify"),
    path("login/resend/", views.ResendCodeView.as_view(), name="resend"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
