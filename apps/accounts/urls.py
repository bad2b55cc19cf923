from django.contrib.auth import views as auth_views
from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    # Django's LogoutView only accepts POST: a link or an image tag cannot sign anyone out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("two-factor/verify/", views.two_factor_verify, name="two-factor-verify"),
    path("two-factor/setup/", views.two_factor_setup, name="two-factor-setup"),
    path("security/", views.security, name="security"),
    path("security/backup-codes/", views.backup_codes_regenerate, name="backup-codes"),
    path("security/two-factor/disable/", views.two_factor_disable, name="two-factor-disable"),
    path("tokens/", views.token_list, name="token-list"),
    path("tokens/created/", views.token_created, name="token-created"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("users/", views.user_list, name="user-list"),
    path("users/new/", views.user_create, name="user-create"),
    path("users/<int:pk>/role/", views.user_set_role, name="user-set-role"),
    path("users/<int:pk>/two-factor/reset/", views.user_two_factor_reset,
         name="user-two-factor-reset"),
]
