from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core.views import healthz

api_v1 = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.registry.api.urls")),
    path("atlas/", include("apps.threats.api.urls")),
    path("", include("apps.threats.api.urls_assessments")),
    path("", include("apps.scans.api.urls")),
    path("", include("apps.audit.api.urls")),
    path("", include("apps.policies.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(api_v1)),
    path("accounts/", include("apps.accounts.urls")),
    path("django-admin/", admin.site.urls),
    path("threats/", include("apps.threats.urls")),
    path("scans/", include("apps.scans.urls")),
    path("audit/", include("apps.audit.urls")),
    path("policies/", include("apps.policies.urls")),
    path("dashboard/", include("apps.dashboards.urls")),
    path("", include("apps.registry.urls")),
]
