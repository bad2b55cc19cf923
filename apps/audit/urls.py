from django.urls import path

from apps.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.entry_list, name="entry-list"),
    path("export.csv", views.entry_export, name="entry-export"),
    path("<int:seq>/", views.entry_detail, name="entry-detail"),
]
