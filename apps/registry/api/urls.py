from rest_framework.routers import SimpleRouter

from apps.registry.api import views

router = SimpleRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("models", views.ModelViewSet, basename="model")
router.register("model-versions", views.ModelVersionViewSet, basename="model-version")
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("dataset-versions", views.DatasetVersionViewSet, basename="dataset-version")
router.register("lineage-links", views.LineageLinkViewSet, basename="lineage-link")
router.register("deployments", views.DeploymentViewSet, basename="deployment")

urlpatterns = router.urls
