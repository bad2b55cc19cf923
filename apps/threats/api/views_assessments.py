"""The threat-model REST API: assessments, applied mitigations, evidence, risk acceptances and
suggested threats, flat under /api/v1/ (apps/threats/api/urls_assessments.py).

Views are thin: they read through apps.threats.selectors_assessments (scoped: another team's
object is a 404), validate input with an input serializer, call one service and answer with an
output serializer. Authorization lives in apps.accounts.permissions and the services; roles that
write no threat model (auditors) are refused with 403 before their input is read.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from apps.core.api.schema import error_responses, list_error_responses
from apps.core.exceptions import ApplicationError, NotInScope
from apps.registry.api.serializers import MAX_ID
from apps.registry.api.views import RegistryViewSet
from apps.threats import selectors_assessments as reads
from apps.threats import services_assessments as assessments
from apps.threats import services_mitigations as mitigations
from apps.threats import services_suggestions as suggestions
from apps.threats.api import filters_assessments as filters
from apps.threats.api import serializers_assessments as s
from apps.threats.assets import AssetRef, asset_get, asset_ref
from apps.threats.choices import AssetKind
from apps.threats.downloads import evidence_file_response
from apps.threats.models import (
    AppliedMitigation,
    Evidence,
    RiskAcceptance,
    ThreatAssessment,
    ThreatSuggestion,
)

READ_ERRORS = error_responses(401, 404)
WRITE_ERRORS = error_responses(400, 401, 403, 404)
ASSET_PARAMETERS = [
    OpenApiParameter(kind, OpenApiTypes.INT, description=f"Id of the {kind} (give exactly one).")
    for kind in AssetKind.values
]


def _read_schema(output, *, tag: str) -> dict:
    return {
        "list": extend_schema(tags=[tag], responses={200: output(many=True),
                                                     **list_error_responses()}),
        "retrieve": extend_schema(tags=[tag], responses={200: output, **READ_ERRORS}),
    }


def _asset_from_query(request) -> AssetRef | None:
    """The asset named by ?model= / ?dataset= / ?deployment= (at most one), checked in scope."""
    given = [kind for kind in AssetKind.values if request.query_params.get(kind)]
    if not given:
        return None
    if len(given) > 1:
        raise ApplicationError("Give at most one of model, dataset or deployment.",
                               field="asset")
    kind = given[0]
    asset = asset_get(user=request.user, kind=kind, pk=request.query_params[kind])
    return asset_ref(asset)


class ThreatModelViewSet(RegistryViewSet):
    """Shared behaviour: scoped list/detail, GET/POST/PATCH only (nothing is deleted)."""

    def lookup(self, selector, pk):
        try:
            return selector(user=self.request.user, pk=pk)
        except (ObjectDoesNotExist, ValueError):
            raise Http404 from None


# --- Assessments --------------------------------------------------------------------------------


@extend_schema_view(
    **_read_schema(s.ThreatAssessmentOutputSerializer, tag="threat assessments"),
    create=extend_schema(
        tags=["threat assessments"], request=s.ThreatAssessmentInputSerializer,
        responses={201: s.ThreatAssessmentOutputSerializer, **WRITE_ERRORS},
        description="Assess an ATLAS technique against one asset (model, dataset or "
        "deployment). Levels are 1 to 5; scores and bands are computed.",
    ),
    partial_update=extend_schema(
        tags=["threat assessments"], request=s.ThreatAssessmentUpdateInputSerializer,
        responses={200: s.ThreatAssessmentOutputSerializer, **WRITE_ERRORS},
    ),
)
class ThreatAssessmentViewSet(ThreatModelViewSet):
    """ATLAS techniques judged against assets: likelihood, impact, inherent and residual risk,
    and how each threat is handled."""

    output_serializer_class = s.ThreatAssessmentOutputSerializer
    filterset_class = filters.ThreatAssessmentFilterSet
    search_fields = ["technique__atlas_id", "technique__name", "rationale"]
    ordering_fields = ["residual_score", "inherent_score", "updated_at", "created_at"]

    def get_queryset(self):
        return reads.assessment_list(user=self.request.user)

    def create(self, request):
        self.refuse_roles_that_cannot_create(ThreatAssessment)
        data = self.validated_input(s.ThreatAssessmentInputSerializer)
        assessment = assessments.assessment_create(actor=request.user, **data)
        return self.respond(assessment, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        assessment = self.get_object()
        data = self.validated_input(s.ThreatAssessmentUpdateInputSerializer, partial=True)
        assessment = assessments.assessment_update(actor=request.user, assessment=assessment,
                                                   data=data)
        return self.respond(assessment)

    @extend_schema(
        tags=["threat assessments"], request=s.AssessmentBulkInputSerializer,
        responses={201: s.ThreatAssessmentOutputSerializer(many=True), **WRITE_ERRORS},
        description="Assess one technique, with the same scores, on many assets at once. All "
        "or nothing: one asset outside the caller's scope (404), not writable (403) or already "
        "assessed for the technique (400) and none is created.",
    )
    @action(detail=False, methods=["post"], pagination_class=None)  # a plain list, not a page
    def bulk(self, request):
        self.refuse_roles_that_cannot_create(ThreatAssessment)
        data = self.validated_input(s.AssessmentBulkInputSerializer)
        assets = [
            asset_get(user=request.user, kind=kind, pk=pk)
            for kind, key in ((AssetKind.MODEL, "models"), (AssetKind.DATASET, "datasets"),
                              (AssetKind.DEPLOYMENT, "deployments"))
            for pk in data.get(key, [])
        ]
        created = assessments.assessments_bulk_create(
            actor=request.user, assets=assets, technique=data["technique"],
            likelihood=data.get("likelihood"), impact=data.get("impact"),
            rationale=data.get("rationale", ""),
        )
        fresh = self.get_queryset().filter(pk__in=[a.pk for a in created])
        return Response(self.get_serializer(fresh, many=True).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["threat assessments"], parameters=ASSET_PARAMETERS,
        responses={200: s.CompletenessOutputSerializer, **error_responses(400, 401, 404)},
        description="Whether one asset's threat model is complete, and what is missing: every "
        "suggested threat accepted or dismissed, every open threat scored, no high-or-worse "
        "residual risk without a mitigation in place or an approved acceptance.",
    )
    @action(detail=False, methods=["get"])
    def completeness(self, request):
        ref = _asset_from_query(request)
        if ref is None:
            raise ApplicationError("Give one of model, dataset or deployment.", field="asset")
        asset = asset_get(user=request.user, kind=ref.kind, pk=ref.pk)
        result = reads.assessment_completeness(asset=asset)
        return Response(s.CompletenessOutputSerializer(result).data)

    @extend_schema(
        tags=["threat assessments"],
        parameters=[*ASSET_PARAMETERS,
                    OpenApiParameter("team", OpenApiTypes.INT, description="Team id.")],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, "An ATT&CK Navigator layer "
                                        "(format 4.5, domain atlas-atlas)."),
                   **error_responses(400, 401, 404)},
        description="The assessed ATLAS techniques in scope as an ATT&CK Navigator layer: "
        "each technique scored with its worst open residual risk (1-25).",
    )
    @action(detail=False, methods=["get"], url_path="navigator-layer")
    def navigator_layer(self, request):
        ref = _asset_from_query(request)
        team_id = _team_filter(request)
        layer = reads.navigator_layer(user=request.user, ref=ref, team_id=team_id)
        return Response(layer)


def _team_filter(request) -> int | None:
    value = request.query_params.get("team", "")
    if not value:
        return None
    # ASCII digits within the id range only: "²".isdigit() is true but int() refuses it, and an
    # id past the database's integer range fails in the query; both were 500s.
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
        raise ApplicationError("team must be a team id.", field="team")
    return int(value)


# --- Applied mitigations ------------------------------------------------------------------------


@extend_schema_view(
    **_read_schema(s.AppliedMitigationOutputSerializer, tag="applied mitigations"),
    create=extend_schema(
        tags=["applied mitigations"], request=s.AppliedMitigationInputSerializer,
        responses={201: s.AppliedMitigationOutputSerializer, **WRITE_ERRORS},
        description="Put an ATLAS mitigation (`mitigation`) or a custom measure (`title`) "
        "against an assessed threat. `verified` needs evidence, so a new one is at most "
        "`implemented`.",
    ),
    partial_update=extend_schema(
        tags=["applied mitigations"], request=s.AppliedMitigationUpdateInputSerializer,
        responses={200: s.AppliedMitigationOutputSerializer, **WRITE_ERRORS},
    ),
)
class AppliedMitigationViewSet(ThreatModelViewSet):
    """Safeguards put against assessed threats, with owner, due date and status."""

    output_serializer_class = s.AppliedMitigationOutputSerializer
    filterset_class = filters.AppliedMitigationFilterSet
    search_fields = ["title", "mitigation__atlas_id", "mitigation__name", "notes"]
    ordering_fields = ["updated_at", "due_date", "status"]
    ordering = ["-updated_at", "-id"]

    def get_queryset(self):
        return reads.applied_mitigation_list(user=self.request.user)

    def create(self, request):
        self.refuse_roles_that_cannot_create(AppliedMitigation)
        data = self.validated_input(s.AppliedMitigationInputSerializer)
        applied = mitigations.applied_mitigation_create(actor=request.user, **data)
        return self.respond(applied, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        applied = self.get_object()
        data = self.validated_input(s.AppliedMitigationUpdateInputSerializer, partial=True)
        applied = mitigations.applied_mitigation_update(actor=request.user, applied=applied,
                                                        data=data)
        return self.respond(applied)

    @extend_schema(
        tags=["applied mitigations"], request=s.MitigationBulkInputSerializer,
        responses={201: s.AppliedMitigationOutputSerializer(many=True), **WRITE_ERRORS},
        description="Apply one mitigation to many assessed threats at once. All or nothing: "
        "one threat outside the caller's scope (404), not writable (403) or already carrying "
        "the mitigation (400) and none is applied.",
    )
    @action(detail=False, methods=["post"], pagination_class=None)  # a plain list, not a page
    def bulk(self, request):
        self.refuse_roles_that_cannot_create(AppliedMitigation)
        data = self.validated_input(s.MitigationBulkInputSerializer)
        targets = []
        for pk in data.pop("assessments"):
            try:
                targets.append(reads.assessment_get(user=request.user, pk=pk))
            except ObjectDoesNotExist:
                raise NotInScope(f"Threat assessment {pk} not found.",
                                 field="assessments") from None
        created = mitigations.applied_mitigations_bulk_create(
            actor=request.user, assessments=targets, **data
        )
        fresh = self.get_queryset().filter(pk__in=[a.pk for a in created])
        return Response(self.get_serializer(fresh, many=True).data,
                        status=status.HTTP_201_CREATED)


# --- Evidence -----------------------------------------------------------------------------------


@extend_schema_view(
    **_read_schema(s.EvidenceOutputSerializer, tag="evidence"),
    create=extend_schema(
        tags=["evidence"],
        request={"multipart/form-data": s.EvidenceInputSerializer,
                 "application/json": s.EvidenceInputSerializer},
        responses={201: s.EvidenceOutputSerializer, **error_responses(400, 401, 403, 404, 413)},
        description="Attach proof that a mitigation is in place: a file (multipart, stored by "
        "content, at most MLGOV_MAX_EVIDENCE_BYTES) or a link (`url`), not both.",
    ),
)
class EvidenceViewSet(ThreatModelViewSet):
    """Evidence attached to applied mitigations. Evidence is never changed once added."""

    http_method_names = ["get", "post", "head", "options"]
    output_serializer_class = s.EvidenceOutputSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_class = filters.EvidenceFilterSet
    search_fields = ["file_name", "url", "description"]
    ordering_fields = ["added_at", "size"]
    ordering = ["-added_at", "-id"]

    def get_queryset(self):
        return reads.evidence_list(user=self.request.user)

    def create(self, request):
        self.refuse_roles_that_cannot_create(Evidence)
        data = self.validated_input(s.EvidenceInputSerializer)
        evidence = mitigations.evidence_add(
            actor=request.user, applied=data["applied_mitigation"], file=data.get("file"),
            url=data.get("url", ""), description=data.get("description", ""),
        )
        return self.respond(evidence, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["evidence"],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                   **error_responses(401, 404)},
        description="The evidence file, streamed (404 for a link). Recorded in the audit trail.",
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        evidence = self.get_object()
        return evidence_file_response(evidence)


# --- Risk acceptances ---------------------------------------------------------------------------


@extend_schema_view(
    **_read_schema(s.RiskAcceptanceOutputSerializer, tag="risk acceptances"),
    create=extend_schema(
        tags=["risk acceptances"], request=s.RiskAcceptanceInputSerializer,
        responses={201: s.RiskAcceptanceOutputSerializer, **WRITE_ERRORS},
        description="Request that a scored threat's residual risk be accepted until "
        "`expires_at` (required, in the future). A compliance officer other than the "
        "requester approves it.",
    ),
)
class RiskAcceptanceViewSet(ThreatModelViewSet):
    """Requests to accept risks as they are, until a date, and their decisions."""

    http_method_names = ["get", "post", "head", "options"]
    output_serializer_class = s.RiskAcceptanceOutputSerializer
    filterset_class = filters.RiskAcceptanceFilterSet
    ordering_fields = ["requested_at", "expires_at"]
    ordering = ["-requested_at", "-id"]

    def get_queryset(self):
        return reads.acceptance_list(user=self.request.user)

    def create(self, request):
        self.refuse_roles_that_cannot_create(RiskAcceptance)
        data = self.validated_input(s.RiskAcceptanceInputSerializer)
        acceptance = assessments.acceptance_request(
            actor=request.user, assessment=data["assessment"], reason=data["reason"],
            expires_at=data.get("expires_at"),
        )
        return self.respond(acceptance, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["risk acceptances"], request=s.DecisionInputSerializer,
        responses={200: s.RiskAcceptanceOutputSerializer, **WRITE_ERRORS},
        description="Approve a pending acceptance: compliance officers only (403 otherwise), "
        "and not the requester (400). The threat becomes accepted until the expiry.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        acceptance = self.lookup(reads.acceptance_get, pk)
        data = self.validated_input(s.DecisionInputSerializer)
        acceptance = assessments.acceptance_approve(actor=request.user, acceptance=acceptance,
                                                    note=data.get("note", ""))
        return self.respond(acceptance)

    @extend_schema(
        tags=["risk acceptances"], request=s.DecisionInputSerializer,
        responses={200: s.RiskAcceptanceOutputSerializer, **WRITE_ERRORS},
        description="Reject a pending acceptance (compliance officers; `note` required).",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        acceptance = self.lookup(reads.acceptance_get, pk)
        data = self.validated_input(s.DecisionInputSerializer)
        acceptance = assessments.acceptance_reject(actor=request.user, acceptance=acceptance,
                                                   note=data.get("note", ""))
        return self.respond(acceptance)


# --- Suggestions --------------------------------------------------------------------------------


@extend_schema_view(**_read_schema(s.ThreatSuggestionOutputSerializer, tag="threat suggestions"))
class ThreatSuggestionViewSet(ThreatModelViewSet):
    """Threats the suggestion rules propose for assets, to accept or dismiss."""

    http_method_names = ["get", "post", "head", "options"]
    output_serializer_class = s.ThreatSuggestionOutputSerializer
    filterset_class = filters.ThreatSuggestionFilterSet
    ordering_fields = ["created_at", "updated_at"]
    ordering = ["technique__atlas_id", "id"]

    def get_queryset(self):
        return reads.suggestion_list(user=self.request.user)

    def _writable_suggestion(self, pk) -> ThreatSuggestion:
        self.refuse_roles_that_cannot_create(ThreatSuggestion)
        return self.lookup(reads.suggestion_get, pk)

    @extend_schema(
        tags=["threat suggestions"], request=s.SuggestionAcceptInputSerializer,
        responses={201: s.ThreatAssessmentOutputSerializer, **WRITE_ERRORS},
        description="Accept a suggestion: it becomes an open threat assessment (origin "
        "`suggested`), scored now if likelihood and impact are given, or later.",
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        suggestion = self._writable_suggestion(pk)
        data = self.validated_input(s.SuggestionAcceptInputSerializer)
        assessment = suggestions.suggestion_accept(actor=request.user, suggestion=suggestion,
                                                   **data)
        fresh = reads.assessment_list(user=request.user).get(pk=assessment.pk)
        return Response(s.ThreatAssessmentOutputSerializer(fresh).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["threat suggestions"], request=s.SuggestionDismissInputSerializer,
        responses={200: s.ThreatSuggestionOutputSerializer, **WRITE_ERRORS},
        description="Dismiss a suggestion with a reason. It stays dismissed until the facts its "
        "rules read change (a new artifact format, a deployment made public...).",
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        suggestion = self._writable_suggestion(pk)
        data = self.validated_input(s.SuggestionDismissInputSerializer)
        suggestion = suggestions.suggestion_dismiss(actor=request.user, suggestion=suggestion,
                                                    reason=data["reason"])
        return self.respond(suggestion)

    @extend_schema(
        tags=["threat suggestions"], request=s.SuggestionBulkAcceptInputSerializer,
        responses={201: s.ThreatAssessmentOutputSerializer(many=True), **WRITE_ERRORS},
        description="Accept several suggestions at once: all of them or none.",
    )
    @action(detail=False, methods=["post"], url_path="accept-many", pagination_class=None)
    def accept_many(self, request):
        self.refuse_roles_that_cannot_create(ThreatSuggestion)
        data = self.validated_input(s.SuggestionBulkAcceptInputSerializer)
        chosen = [self.lookup(reads.suggestion_get, pk) for pk in data["suggestions"]]
        created = suggestions.suggestions_bulk_accept(actor=request.user, suggestions=chosen)
        fresh = reads.assessment_list(user=request.user).filter(pk__in=[a.pk for a in created])
        return Response(s.ThreatAssessmentOutputSerializer(fresh, many=True).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["threat suggestions"], request=s.SuggestionRefreshInputSerializer,
        responses={200: s.RefreshOutputSerializer, **WRITE_ERRORS},
        description="Re-evaluate the suggestion rules for one asset now (pages do this when "
        "they show the asset's threat model). Answers the ATLAS ids that changed.",
    )
    @action(detail=False, methods=["post"])
    def refresh(self, request):
        self.refuse_roles_that_cannot_create(ThreatSuggestion)
        data = self.validated_input(s.SuggestionRefreshInputSerializer)
        report = suggestions.suggestions_refresh_for(actor=request.user, asset=data["asset"])
        body = {
            name: [item.technique.atlas_id for item in getattr(report, name)]
            for name in ("created", "reopened", "updated")
        }
        body["removed"] = report.removed
        return Response(s.RefreshOutputSerializer(body).data)
