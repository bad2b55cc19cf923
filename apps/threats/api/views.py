"""The ATLAS catalogue API: read-only lists and details of tactics, techniques, mitigations."""

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.exceptions import NotFound

from apps.accounts.permissions import ScopedObjectPermission
from apps.core.api.schema import error_responses, list_error_responses
from apps.threats import selectors
from apps.threats.api import filters, serializers
from apps.threats.models import Mitigation, Tactic, Technique

ATLAS_ID_PARAMETER = OpenApiParameter(
    "atlas_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="ATLAS id (e.g. AML.T0010.003) or numeric id. Retired objects are found too.",
)
LIST_ERRORS = list_error_responses()
READ_ERRORS = error_responses(401, 404)


class CatalogueViewSet(viewsets.ReadOnlyModelViewSet):
    """Read-only reference data every active user may read; nobody writes it through the API."""

    permission_classes = [ScopedObjectPermission]
    lookup_field = "atlas_id"
    # ATLAS ids contain dots, which the router's default pattern excludes.
    lookup_value_regex = r"[^/]+"
    search_fields = ["atlas_id", "name"]
    ordering_fields = ["atlas_id", "name"]
    ordering = ["atlas_id"]

    def filter_queryset(self, queryset):
        # Filters shape lists only: a detail answers any id, retired ones included, so records
        # that point at a retired technique still resolve.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_object(self):
        try:
            obj = selectors.catalogue_object_get(
                self.get_queryset(), key=self.kwargs[self.lookup_field]
            )
        except ObjectDoesNotExist as exc:
            raise NotFound("No such ATLAS object.") from exc
        self.check_object_permissions(self.request, obj)
        return obj


@extend_schema_view(
    list=extend_schema(summary="ATLAS tactics in matrix order", responses={
        200: serializers.TacticOutputSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One ATLAS tactic", parameters=[ATLAS_ID_PARAMETER],
                           responses={200: serializers.TacticOutputSerializer, **READ_ERRORS}),
)
class TacticViewSet(CatalogueViewSet):
    queryset = Tactic.objects.none()  # for the schema; requests use the selector
    serializer_class = serializers.TacticOutputSerializer
    filterset_class = filters.TacticFilterSet
    ordering_fields = ["matrix_order", "atlas_id", "name"]
    ordering = ["matrix_order", "atlas_id"]

    def get_queryset(self):
        return selectors.tactic_list(user=self.request.user)


@extend_schema_view(
    list=extend_schema(summary="ATLAS techniques and sub-techniques", responses={
        200: serializers.TechniqueOutputSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One ATLAS technique", parameters=[ATLAS_ID_PARAMETER],
                           responses={200: serializers.TechniqueOutputSerializer, **READ_ERRORS}),
)
class TechniqueViewSet(CatalogueViewSet):
    queryset = Technique.objects.none()
    serializer_class = serializers.TechniqueOutputSerializer
    filterset_class = filters.TechniqueFilterSet

    def get_queryset(self):
        return selectors.technique_list(user=self.request.user)


@extend_schema_view(
    list=extend_schema(summary="ATLAS mitigations", responses={
        200: serializers.MitigationOutputSerializer(many=True), **LIST_ERRORS}),
    retrieve=extend_schema(summary="One ATLAS mitigation", parameters=[ATLAS_ID_PARAMETER],
                           responses={200: serializers.MitigationOutputSerializer, **READ_ERRORS}),
)
class MitigationViewSet(CatalogueViewSet):
    queryset = Mitigation.objects.none()
    serializer_class = serializers.MitigationOutputSerializer
    filterset_class = filters.MitigationFilterSet

    def get_queryset(self):
        return selectors.mitigation_list(user=self.request.user)
