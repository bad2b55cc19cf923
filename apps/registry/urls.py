from django.urls import path

from apps.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.home, name="home"),
    # Teams
    path("teams/", views.team_list, name="team-list"),
    path("teams/new/", views.team_create, name="team-create"),
    path("teams/<int:pk>/", views.team_detail, name="team-detail"),
    path("teams/<int:pk>/edit/", views.team_update, name="team-update"),
    path("teams/<int:pk>/members/", views.team_member_set, name="team-member-set"),
    path("teams/<int:pk>/members/<int:user_pk>/remove/", views.team_member_remove,
         name="team-member-remove"),
    # Models and their versions
    path("models/", views.model_list, name="model-list"),
    path("models/new/", views.model_create, name="model-create"),
    path("models/<int:pk>/", views.model_detail, name="model-detail"),
    path("models/<int:pk>/edit/", views.model_update, name="model-update"),
    path("models/<int:pk>/versions/new/", views.version_create, name="version-create"),
    path("versions/<int:pk>/", views.version_detail, name="version-detail"),
    path("versions/<int:pk>/lineage/", views.lineage_add, name="lineage-add"),
    path("versions/<int:pk>/deploy/", views.deployment_create, name="deployment-create"),
    # Datasets and their versions
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/new/", views.dataset_create, name="dataset-create"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<int:pk>/edit/", views.dataset_update, name="dataset-update"),
    path("datasets/<int:pk>/versions/new/", views.dataset_version_create,
         name="dataset-version-create"),
    path("dataset-versions/<int:pk>/", views.dataset_version_detail,
         name="dataset-version-detail"),
    # Deployments
    path("deployments/", views.deployment_list, name="deployment-list"),
    path("deployments/<int:pk>/", views.deployment_detail, name="deployment-detail"),
    path("deployments/<int:pk>/edit/", views.deployment_update, name="deployment-update"),
    path("deployments/<int:pk>/retire/", views.deployment_retire, name="deployment-retire"),
]
