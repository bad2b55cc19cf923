from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.scans.api import views

router = SimpleRouter()
router.register("scans", views.ScanViewSet, basename="scan")
router.register("findings", views.FindingViewSet, basename="finding")

urlpatterns = [
    path("scanners/", views.ScannerListView.as_view(), name="scanner-list"),
    *router.urls,
]
