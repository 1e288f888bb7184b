from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.views import SetPasswordView, ThrottledPasswordResetView

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password-reset/",
        ThrottledPasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    # The one-time links of invitations and password resets (accounts.people).
    path(
        "accounts/reset/<uidb64>/<token>/",
        SetPasswordView.as_view(),
        name="password_reset_confirm",
    ),
    path("admin/", admin.site.urls),
    path("", include("ingestion.urls")),
    path("", include("insights.urls")),
    path("", include("accounts.urls")),
    path("", include("alerts.urls")),
]
