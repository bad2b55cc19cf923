"""Mounted at /api/v1/atlas/ (CONTRACT.md "Threat catalogue")."""

from rest_framework.routers import SimpleRouter

from apps.threats.api import views

router = SimpleRouter()
router.register("tactics", views.TacticViewSet, basename="atlas-tactic")
router.register("techniques", views.TechniqueViewSet, basename="atlas-technique")
router.register("mitigations", views.MitigationViewSet, basename="atlas-mitigation")

urlpatterns = router.urls
