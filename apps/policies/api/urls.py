from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.policies.api import views

router = SimpleRouter()
router.register("policies", views.AccessPolicyViewSet, basename="access-policy")

urlpatterns = [
    *router.urls,
    # Not actions of the registry's viewsets (another app's routers): plain paths that the
    # registry routes do not match (their detail routes end at /model-versions/{id}/).
    path("model-versions/<int:pk>/download/", views.ModelVersionDownloadView.as_view(),
         name="policies-model-version-download"),
    path("dataset-versions/<int:pk>/download/", views.DatasetVersionDownloadView.as_view(),
         name="policies-dataset-version-download"),
]
