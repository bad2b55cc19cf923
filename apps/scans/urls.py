from django.urls import path

from apps.scans import views

app_name = "scans"

urlpatterns = [
    path("", views.scan_list, name="scan-list"),
    path("new/", views.scan_create, name="scan-create"),
    path("<int:pk>/", views.scan_detail, name="scan-detail"),
    path("<int:pk>/cancel/", views.scan_cancel, name="scan-cancel"),
    path("findings/", views.finding_list, name="finding-list"),
    path("findings/<int:pk>/", views.finding_detail, name="finding-detail"),
    path("findings/<int:pk>/triage/", views.finding_triage, name="finding-triage"),
]
