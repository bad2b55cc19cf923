"""The threat-model API, mounted flat under /api/v1/ (the catalogue lives under /api/v1/atlas/)."""

from rest_framework.routers import SimpleRouter

from apps.threats.api import views_assessments as views

router = SimpleRouter()
router.register("threat-assessments", views.ThreatAssessmentViewSet, basename="threat-assessment")
router.register("applied-mitigations", views.AppliedMitigationViewSet,
                basename="applied-mitigation")
router.register("evidence", views.EvidenceViewSet, basename="evidence")
router.register("risk-acceptances", views.RiskAcceptanceViewSet, basename="risk-acceptance")
router.register("threat-suggestions", views.ThreatSuggestionViewSet,
                basename="threat-suggestion")

urlpatterns = router.urls
