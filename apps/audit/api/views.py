"""Read-only API of the audit trail: GET /api/v1/audit-entries/ and the chain head.

Scoped like the pages (`selectors.entry_list`): another team's entry is a 404 to a data
scientist. Nothing here writes: entries are only ever appended by services.
"""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.permissions import IsAuthenticatedMember
from apps.audit import selectors
from apps.audit.api.filters import AuditEntryFilterSet
from apps.audit.api.serializers import AuditEntryOutputSerializer, ChainHeadOutputSerializer
from apps.core.api.pagination import KeysetPagination
from apps.core.api.schema import error_responses


@extend_schema_view(
    list=extend_schema(tags=["audit"], responses={200: AuditEntryOutputSerializer(many=True),
                                                  **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["audit"], responses={200: AuditEntryOutputSerializer,
                                                      **error_responses(401, 404)}),
)
class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """Audit entries, newest first, filtered like the audit pages."""

    permission_classes = [IsAuthenticatedMember]
    serializer_class = AuditEntryOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditEntryFilterSet
    pagination_class = KeysetPagination  # large list: the last page costs what the first does
    lookup_field = "seq"
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return selectors.entry_list(user=self.request.user)

    @extend_schema(tags=["audit"], responses={200: ChainHeadOutputSerializer,
                                              **error_responses(401)})
    @action(detail=False, methods=["get"], url_path="head", filter_backends=[],
            pagination_class=None)
    def head(self, request):
        """The chain's last link (seq and hash): quote it to pin the trail at a point in time."""
        head = selectors.chain_head()
        return Response(ChainHeadOutputSerializer({"seq": head.seq, "hash": head.hash}).data)
