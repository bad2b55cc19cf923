from django.urls import path, re_path

from apps.threats import views
from apps.threats import views_assessments as threat_model

app_name = "threats"

urlpatterns = [
    path("catalogue/", views.catalogue, name="catalogue"),
    # Threat models of registry assets
    path("", threat_model.threat_model_list, name="threat-model-list"),
    re_path(r"^(?P<segment>models|datasets|deployments)/(?P<pk>[0-9]+)/$",
            threat_model.asset_threat_model, name="asset"),
    re_path(r"^(?P<segment>models|datasets|deployments)/(?P<pk>[0-9]+)/assessments/$",
            threat_model.assessment_create, name="assessment-create"),
    re_path(r"^(?P<segment>models|datasets|deployments)/(?P<pk>[0-9]+)/accept-suggestions/$",
            threat_model.suggestions_accept_all, name="suggestions-accept-all"),
    path("suggestions/<int:pk>/accept/", threat_model.suggestion_accept,
         name="suggestion-accept"),
    path("suggestions/<int:pk>/dismiss/", threat_model.suggestion_dismiss,
         name="suggestion-dismiss"),
    # Assessed threats
    path("assessments/", threat_model.assessment_list, name="assessment-list"),
    path("assessments/<int:pk>/", threat_model.assessment_detail, name="assessment-detail"),
    path("assessments/<int:pk>/edit/", threat_model.assessment_edit, name="assessment-edit"),
    path("assessments/<int:pk>/score/", threat_model.assessment_score, name="assessment-score"),
    path("assessments/<int:pk>/mitigations/", threat_model.mitigation_add,
         name="mitigation-add"),
    path("assessments/<int:pk>/acceptances/", threat_model.acceptance_request,
         name="acceptance-request"),
    path("mitigations/<int:pk>/status/", threat_model.mitigation_status,
         name="mitigation-status"),
    path("mitigations/<int:pk>/evidence/", threat_model.evidence_add, name="evidence-add"),
    path("evidence/<int:pk>/download/", threat_model.evidence_download,
         name="evidence-download"),
    path("acceptances/<int:pk>/approve/", threat_model.acceptance_approve,
         name="acceptance-approve"),
    path("acceptances/<int:pk>/reject/", threat_model.acceptance_reject,
         name="acceptance-reject"),
    path("bulk/technique/", threat_model.bulk_technique, name="bulk-technique"),
    # The ATLAS matrix of assessed risk and its exports
    path("matrix/", threat_model.matrix, name="matrix"),
    path("matrix/navigator-layer.json", threat_model.navigator_layer, name="navigator-layer"),
    path("register.csv", threat_model.register_csv, name="register"),
]
