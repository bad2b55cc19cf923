"""Access-policy API: /api/v1/policies/ (CRUD, mark-reviewed, review) and the policy-checked
downloads /api/v1/model-versions/{id}/download/ and /api/v1/dataset-versions/{id}/download/.

Thin views: scoped selectors to read (another team's policy or asset is a 404), one service per
write (403 for read-only roles, 400 naming the faulty grant), output serializers to answer.
"""

from dataclasses import asdict

from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import permissions as perms
from apps.core.api.schema import error_responses, list_error_responses
from apps.core.exceptions import Forbidden
from apps.policies import selectors, services
from apps.policies.api import filters
from apps.policies.api import serializers as s
from apps.policies.assets import asset_kind, asset_label, asset_team
from apps.policies.models import AccessPolicy
from apps.policies.review import policy_review
from apps.policies.views import _stream
from apps.registry import selectors as registry

TAG = "policies"
READ_ERRORS = error_responses(401, 404)
WRITE_ERRORS = error_responses(400, 401, 403, 404)


@extend_schema_view(
    list=extend_schema(tags=[TAG], responses={200: s.AccessPolicyOutputSerializer(many=True),
                                              **list_error_responses()}),
    retrieve=extend_schema(tags=[TAG], responses={200: s.AccessPolicyOutputSerializer,
                                                  **READ_ERRORS}),
    create=extend_schema(
        tags=[TAG], request=s.AccessPolicyInputSerializer,
        responses={201: s.AccessPolicyOutputSerializer, **WRITE_ERRORS},
        description="Give one model, dataset or deployment its access policy. Each grant names "
        "a permission (view, download, deploy, query) and exactly one principal: a team id, a "
        "role or a user id. Without a policy, members of the owning team may download.",
    ),
    partial_update=extend_schema(
        tags=[TAG], request=s.AccessPolicyUpdateInputSerializer,
        responses={200: s.AccessPolicyOutputSerializer, **WRITE_ERRORS},
        description="Change query logging, notes, or the whole list of grants. Any change "
        "clears the compliance review.",
    ),
    destroy=extend_schema(tags=[TAG], responses={204: None, **error_responses(401, 403, 404)},
                          description="Remove the policy: the default rule applies again."),
)
class AccessPolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Who may view, download, deploy and query each model, dataset and deployment."""

    permission_classes = [perms.ScopedObjectPermission]
    serializer_class = s.AccessPolicyOutputSerializer
    filterset_class = filters.AccessPolicyFilterSet
    search_fields = ["notes", "model__name", "dataset__name"]
    ordering_fields = ["created_at", "updated_at", "reviewed_at"]
    ordering = ["-updated_at", "-id"]
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.policy_list(user=self.request.user)

    def _validated(self, serializer_class, *, data=None) -> dict:
        serializer = serializer_class(data=self.request.data if data is None else data,
                                      context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _respond(self, policy: AccessPolicy, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.policy_get(user=self.request.user, pk=policy.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)

    def create(self, request):
        if not perms.may_create_anything(request.user, AccessPolicy):
            raise Forbidden("You may not create an access policy.")
        data = self._validated(s.AccessPolicyInputSerializer)
        policy = services.policy_create(actor=request.user, **data)
        return self._respond(policy, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        policy = self.get_object()
        data = self._validated(s.AccessPolicyUpdateInputSerializer)
        policy = services.policy_update(actor=request.user, policy=policy, data=data)
        return self._respond(policy)

    def perform_destroy(self, instance):
        services.policy_delete(actor=self.request.user, policy=instance)

    @extend_schema(
        tags=[TAG], request=None,
        responses={200: s.AccessPolicyOutputSerializer, **error_responses(401, 403, 404)},
        description="A compliance officer signs the policy off as reviewed, as it stands now.",
    )
    @action(detail=True, methods=["post"], url_path="mark-reviewed")
    def mark_reviewed(self, request, pk=None):
        policy = self.get_object()
        policy = services.policy_mark_reviewed(actor=request.user, policy=policy)
        return self._respond(policy)

    @extend_schema(
        tags=[TAG],
        parameters=[
            OpenApiParameter("model", OpenApiTypes.INT, description="A model id."),
            OpenApiParameter("dataset", OpenApiTypes.INT, description="A dataset id."),
            OpenApiParameter("deployment", OpenApiTypes.INT, description="A deployment id."),
        ],
        responses={200: s.AssetReviewOutputSerializer, **error_responses(400, 401, 404)},
        description="The policy review of one asset (name exactly one): the gaps its access "
        "policy and endpoint controls leave, each tied to an ATLAS technique. Works for assets "
        "without a policy too.",
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def review(self, request):
        asset = self._validated(s.AssetQuerySerializer, data=request.query_params)["asset"]
        policy = selectors.policy_for_asset(asset=asset)
        body = {
            "kind": asset_kind(asset),
            "asset": asset.pk,
            "asset_name": asset_label(asset),
            "team": asset_team(asset).pk,
            "policy": policy.pk if policy else None,
            "gaps": [asdict(gap) | {"technique_name": gap.technique_name}
                     for gap in policy_review(asset, policy)],
        }
        return Response(s.AssetReviewOutputSerializer(body).data)


# --- Downloads ----------------------------------------------------------------------------------


class JSONErrorsNegotiation(BaseContentNegotiation):
    """A download answers with the file's bytes whatever the client accepts (curl, pipelines
    sending `Accept: application/octet-stream`), and errors as JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DownloadView(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrorsNegotiation
    list_selector = None  # the registry selector of the versions the caller may see
    service = None  # the download service
    keyword = ""  # how the service names the version

    def get(self, request, pk: int) -> FileResponse:
        try:
            version = self.list_selector(user=request.user).get(pk=pk)
        except ObjectDoesNotExist:
            raise Http404 from None
        download = self.service(actor=request.user, **{self.keyword: version})
        return _stream(download)


_DOWNLOAD_ERRORS = error_responses(401, 403, 404)


class ModelVersionDownloadView(DownloadView):
    list_selector = staticmethod(registry.model_version_list)
    service = staticmethod(services.model_version_download)
    keyword = "model_version"

    @extend_schema(
        tags=["model versions"], operation_id="model_versions_download",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **_DOWNLOAD_ERRORS},
        description="The version's artifact, streamed as an attachment, if the model's access "
        "policy grants the caller download (no policy: members of the owning team). Every "
        "download and every refusal is recorded in the audit trail.",
    )
    def get(self, request, pk: int) -> FileResponse:
        return super().get(request, pk)


class DatasetVersionDownloadView(DownloadView):
    list_selector = staticmethod(registry.dataset_version_list)
    service = staticmethod(services.dataset_version_download)
    keyword = "dataset_version"

    @extend_schema(
        tags=["dataset versions"], operation_id="dataset_versions_download",
        responses={(200, "text/csv"): OpenApiTypes.BINARY, **_DOWNLOAD_ERRORS},
        description="The dataset version's CSV file, streamed as an attachment, if the "
        "dataset's access policy grants the caller download (no policy: members of the owning "
        "team). Recorded in the audit trail.",
    )
    def get(self, request, pk: int) -> FileResponse:
        return super().get(request, pk)
