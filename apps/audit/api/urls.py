from rest_framework.routers import SimpleRouter

from apps.audit.api import views

router = SimpleRouter()
router.register("audit-entries", views.AuditEntryViewSet, basename="audit-entry")

urlpatterns = router.urls
