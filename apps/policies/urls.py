from django.urls import path

from apps.policies import views

app_name = "policies"

urlpatterns = [
    path("", views.policy_list, name="policy-list"),
    path("<str:kind>/<int:pk>/", views.asset_policy, name="asset-policy"),
    path("<str:kind>/<int:pk>/create/", views.policy_create, name="policy-create"),
    path("<int:pk>/settings/", views.policy_update, name="policy-update"),
    path("<int:pk>/grants/", views.grant_add, name="grant-add"),
    path("grants/<int:pk>/remove/", views.grant_remove, name="grant-remove"),
    path("<int:pk>/mark-reviewed/", views.policy_mark_reviewed, name="policy-mark-reviewed"),
    path("<int:pk>/delete/", views.policy_delete, name="policy-delete"),
    # Downloads of stored files, through the asset's access policy.
    path("download/model-version/<int:pk>/", views.download_model_version,
         name="download-model-version"),
    path("download/dataset-version/<int:pk>/", views.download_dataset_version,
         name="download-dataset-version"),
]
