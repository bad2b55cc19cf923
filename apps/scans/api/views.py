"""Scans REST API (CONTRACT.md "Scans and findings"): scans, findings, scanners.

Views are thin: they read through `apps.scans.selectors` (already scoped to the caller, so
another team's scan or finding is a 404), validate input with an input serializer, call one
service and answer with an output serializer. Starting a scan answers 202: the scan runs on a
worker, and its progress is read back with GET /api/v1/scans/{id}/.
"""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import SearchFilter
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import permissions as perms
from apps.core.api.pagination import KeysetPagination
from apps.core.api.schema import error_responses
from apps.core.exceptions import Forbidden
from apps.registry.api.filters import StableOrderingFilter
from apps.scans import scanners, selectors, services
from apps.scans.api import filters
from apps.scans.api import serializers as s
from apps.scans.models import ScanRun

READ_ERRORS = error_responses(401, 404)
LIST_ERRORS = error_responses(400, 401)
WRITE_ERRORS = error_responses(400, 401, 403, 404)


class ScopedReadViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [perms.ScopedObjectPermission]
    filter_backends = [DjangoFilterBackend, SearchFilter, StableOrderingFilter]
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "head", "options"]

    def validated_input(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def respond(self, instance, *, status_code: int = status.HTTP_200_OK) -> Response:
        """Answer with the object read afresh through the scoped queryset."""
        fresh = self.get_queryset().get(pk=instance.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)


@extend_schema_view(
    list=extend_schema(tags=["scans"], responses={200: s.ScanOutputSerializer(many=True),
                                                  **LIST_ERRORS}),
    retrieve=extend_schema(tags=["scans"], responses={200: s.ScanOutputSerializer,
                                                      **READ_ERRORS}),
    create=extend_schema(
        tags=["scans"], request=s.ScanInputSerializer,
        responses={202: s.ScanOutputSerializer, **WRITE_ERRORS},
        description="Queue a scan of one model version, dataset version or deployment with the "
        "chosen scanners (default: every scanner that applies). Answers 202 with the queued "
        "scan; follow its progress with GET /api/v1/scans/{id}/.",
    ),
)
class ScanViewSet(ScopedReadViewSet):
    """Scan runs: what was scanned, with which scanners, how far it is and how it ended."""

    serializer_class = s.ScanOutputSerializer
    filterset_class = filters.ScanFilterSet
    pagination_class = KeysetPagination  # large list: the last page costs what the first does
    ordering_fields = ["created_at", "finished_at", "status"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return selectors.scan_list(user=self.request.user)

    def create(self, request):
        if not perms.may_create_anything(request.user, ScanRun):
            raise Forbidden("Your role cannot start scans.")
        data = self.validated_input(s.ScanInputSerializer)
        run = services.scan_request(actor=request.user, **data)
        return self.respond(run, status_code=status.HTTP_202_ACCEPTED)

    @extend_schema(
        tags=["scans"], request=None,
        responses={200: OpenApiResponse(s.ScanOutputSerializer, "The cancelled scan."),
                   **WRITE_ERRORS},
        description="Cancel a queued or running scan; a running scan stops at its next "
        "progress report. A finished scan answers 400.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        run = self.get_object()
        run = services.scan_cancel(actor=request.user, scan=run)
        return self.respond(run)


@extend_schema_view(
    list=extend_schema(tags=["findings"], responses={200: s.FindingOutputSerializer(many=True),
                                                     **LIST_ERRORS}),
    retrieve=extend_schema(tags=["findings"], responses={200: s.FindingOutputSerializer,
                                                         **READ_ERRORS}),
)
class FindingViewSet(ScopedReadViewSet):
    """Findings, one per problem per target across rescans, most severe first.
    `?scan={id}` lists the findings that scan reported."""

    serializer_class = s.FindingOutputSerializer
    filterset_class = filters.FindingFilterSet
    pagination_class = KeysetPagination  # large list: the last page costs what the first does
    search_fields = ["title", "detail", "location"]
    ordering_fields = ["last_seen_at", "first_seen_at", "severity_rank", "status"]

    def get_queryset(self):
        return selectors.finding_list(user=self.request.user)

    @extend_schema(
        tags=["findings"], request=s.FindingTriageInputSerializer,
        responses={200: s.FindingOutputSerializer, **WRITE_ERRORS},
        description="Compliance officers: accept the risk (reason and expiry required), mark "
        "a false positive (reason required) or reopen. The decision survives rescans.",
    )
    @action(detail=True, methods=["post"])
    def triage(self, request, pk=None):
        finding = self.get_object()
        data = self.validated_input(s.FindingTriageInputSerializer)
        finding = services.finding_triage(actor=request.user, finding=finding, **data)
        return self.respond(finding)


class ScannerListView(APIView):
    """The scanners this installation has, with their targets, inputs and ATLAS techniques."""

    @extend_schema(
        tags=["scans"],
        responses={
            200: inline_serializer(
                "ScannerList",
                fields={
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": s.ScannerOutputSerializer(many=True),
                },
            ),
            **error_responses(401),
        },
    )
    def get(self, request):
        described = [scanner.describe() for scanner in scanners.registered().values()]
        results = s.ScannerOutputSerializer(described, many=True).data
        # The same list shape as every other list, in one page.
        return Response({"count": len(results), "next": None, "previous": None,
                         "results": results})
