from django.urls import path

from apps.accounts.api.views import TokenLoginView

urlpatterns = [
    path("auth/token/", TokenLoginView.as_view(), name="api-token"),
]
