"""Registry REST API (CONTRACT.md "Registry"): teams, models, versions, datasets, lineage,
deployments.

Views are thin: they read through selectors (already scoped to the caller), validate input with
an input serializer, call one service and answer with an output serializer. They make no ORM
writes. Authorization lives in apps.accounts.permissions: lists and details are scoped (another
team's object is a 404), writes on an object need CHANGE (403 for read-only roles), and creates
are checked by the services (`require_create`); a role that creates nothing is refused before
its input is even read.
"""

from types import SimpleNamespace

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import SearchFilter
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from apps.accounts import permissions as perms
from apps.core.api.pagination import KeysetPagination
from apps.core.api.schema import error_responses, list_error_responses
from apps.core.exceptions import Forbidden
from apps.registry import selectors, services
from apps.registry.api import filters
from apps.registry.api import serializers as s
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
)

READ_ERRORS = error_responses(401, 404)
WRITE_ERRORS = error_responses(400, 401, 403, 404)
UPLOAD_ERRORS = error_responses(400, 401, 403, 404, 413)


def _read_schema(output, *, tag: str):
    """list/retrieve documentation shared by every resource."""
    return {
        "list": extend_schema(
            tags=[tag], responses={200: output(many=True), **list_error_responses()}
        ),
        "retrieve": extend_schema(tags=[tag], responses={200: output, **READ_ERRORS}),
    }


class RegistryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Scoped list and detail, plus the helpers the write actions share."""

    permission_classes = [perms.ScopedObjectPermission]
    filter_backends = [DjangoFilterBackend, SearchFilter, filters.StableOrderingFilter]
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]
    output_serializer_class: type = None  # type: ignore[assignment]

    def get_serializer_class(self):
        return self.output_serializer_class

    def validated_input(self, serializer_class, *, partial: bool = False) -> dict:
        serializer = serializer_class(
            data=self.request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def refuse_roles_that_cannot_create(self, model) -> None:
        """403 at once for roles that create no `model` anywhere (auditors, for example)."""
        if not perms.may_create_anything(self.request.user, model):
            raise Forbidden(f"You may not create a {model._meta.verbose_name}.")

    def respond(self, instance, *, status_code: int = status.HTTP_200_OK) -> Response:
        """Answer with the object as the list shows it (annotations included), read afresh."""
        fresh = self.get_queryset().get(pk=instance.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)


# --- Teams --------------------------------------------------------------------------------------


@extend_schema_view(
    **_read_schema(s.TeamOutputSerializer, tag="teams"),
    create=extend_schema(
        tags=["teams"],
        request=s.TeamInputSerializer,
        responses={201: s.TeamOutputSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        tags=["teams"],
        request=s.TeamInputSerializer,
        responses={200: s.TeamOutputSerializer, **WRITE_ERRORS},
    ),
)
class TeamViewSet(RegistryViewSet):
    """Teams own models and datasets. Everyone reads the teams in their scope; administrators
    create and rename them."""

    output_serializer_class = s.TeamOutputSerializer
    filterset_class = filters.TeamFilterSet
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_queryset(self):
        return selectors.team_list(user=self.request.user)

    def create(self, request):
        self.refuse_roles_that_cannot_create(Team)
        data = self.validated_input(s.TeamInputSerializer)
        team = services.team_create(actor=request.user, **data)
        return self.respond(team, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        team = self.get_object()
        data = self.validated_input(s.TeamInputSerializer, partial=True)
        team = services.team_update(actor=request.user, team=team, data=data)
        return self.respond(team)


# --- Models -------------------------------------------------------------------------------------


@extend_schema_view(
    **_read_schema(s.ModelOutputSerializer, tag="models"),
    create=extend_schema(
        tags=["models"],
        request=s.ModelInputSerializer,
        responses={201: s.ModelOutputSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        tags=["models"],
        request=s.ModelUpdateInputSerializer,
        responses={200: s.ModelOutputSerializer, **WRITE_ERRORS},
    ),
)
class ModelViewSet(RegistryViewSet):
    """ML models, each owned by one team."""

    output_serializer_class = s.ModelOutputSerializer
    filterset_class = filters.ModelFilterSet
    search_fields = ["name", "description"]
    ordering_fields = [
        "name",
        "created_at",
        "updated_at",
        "risk_tier",
        "lifecycle_status",
        "latest_version_at",
    ]
    ordering = ["name", "id"]

    def get_queryset(self):
        return selectors.model_list(user=self.request.user).select_related("created_by")

    def create(self, request):
        self.refuse_roles_that_cannot_create(MLModel)
        data = self.validated_input(s.ModelInputSerializer)
        model = services.model_create(actor=request.user, **data)
        return self.respond(model, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        model = self.get_object()
        data = self.validated_input(s.ModelUpdateInputSerializer, partial=True)
        model = services.model_update(actor=request.user, model=model, data=data)
        return self.respond(model)


# --- Model versions -----------------------------------------------------------------------------


class FormatIsAFilterNegotiation(DefaultContentNegotiation):
    """On model versions `?format=` filters by artifact format (pickle, onnx...), so it must not
    also pick the response renderer as DRF's URL_FORMAT_OVERRIDE does; JSON is chosen by the
    Accept header, as everywhere else."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


@extend_schema_view(
    list=extend_schema(
        tags=["model versions"],
        responses={200: s.ModelVersionOutputSerializer(many=True), **error_responses(400, 401)},
    ),
    retrieve=extend_schema(
        tags=["model versions"],
        responses={200: s.ModelVersionDetailOutputSerializer, **READ_ERRORS},
    ),
    create=extend_schema(
        tags=["model versions"],
        request={"multipart/form-data": s.ModelVersionInputSerializer},
        responses={201: s.ModelVersionDetailOutputSerializer, **UPLOAD_ERRORS},
        description="Register an artifact as a new, immutable version of a model. The bytes are "
        "hashed as they arrive; `expected_sha256`, when given, must match. `format` is detected "
        "from the bytes.",
    ),
    partial_update=extend_schema(
        tags=["model versions"],
        request=s.ModelVersionUpdateInputSerializer,
        responses={200: s.ModelVersionDetailOutputSerializer, **WRITE_ERRORS},
        description="Change notes, framework or dependencies. The artifact never changes.",
    ),
)
class ModelVersionViewSet(RegistryViewSet):
    """Registered artifacts of models. A version's bytes never change once registered."""

    output_serializer_class = s.ModelVersionOutputSerializer
    content_negotiation_class = FormatIsAFilterNegotiation
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filterset_class = filters.ModelVersionFilterSet
    pagination_class = KeysetPagination  # large list: the last page costs what the first does
    search_fields = ["version", "model__name"]
    ordering_fields = ["registered_at", "version", "size"]
    ordering = ["-registered_at", "-id"]

    def get_queryset(self):
        return selectors.model_version_list(user=self.request.user)

    def get_serializer_class(self):
        if self.action == "list":
            return s.ModelVersionOutputSerializer
        return s.ModelVersionDetailOutputSerializer

    def get_object(self):
        # The detail answer carries the lineage, which the selector prefetches.
        try:
            version = selectors.model_version_get(user=self.request.user, pk=self.kwargs["pk"])
        except (ObjectDoesNotExist, ValueError, TypeError):
            # ValueError: an id too long to be a number (the URL only allows digits).
            raise Http404 from None
        self.check_object_permissions(self.request, version)
        return version

    def respond(self, instance, *, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.model_version_get(user=self.request.user, pk=instance.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)

    def create(self, request):
        self.refuse_roles_that_cannot_create(ModelVersion)
        data = self.validated_input(s.ModelVersionInputSerializer)
        version = services.model_version_register(actor=request.user, **data)
        return self.respond(version, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        version = self.get_object()
        data = self.validated_input(s.ModelVersionUpdateInputSerializer, partial=True)
        version = services.model_version_update(
            actor=request.user, model_version=version, data=data
        )
        return self.respond(version)


# --- Datasets -----------------------------------------------------------------------------------


@extend_schema_view(
    **_read_schema(s.DatasetOutputSerializer, tag="datasets"),
    create=extend_schema(
        tags=["datasets"],
        request=s.DatasetInputSerializer,
        responses={201: s.DatasetOutputSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        tags=["datasets"],
        request=s.DatasetUpdateInputSerializer,
        responses={200: s.DatasetOutputSerializer, **WRITE_ERRORS},
    ),
)
class DatasetViewSet(RegistryViewSet):
    """Datasets used to train or evaluate models, each owned by one team."""

    output_serializer_class = s.DatasetOutputSerializer
    filterset_class = filters.DatasetFilterSet
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at", "latest_version_at"]
    ordering = ["name", "id"]

    def get_queryset(self):
        return selectors.dataset_list(user=self.request.user).select_related("created_by")

    def create(self, request):
        self.refuse_roles_that_cannot_create(Dataset)
        data = self.validated_input(s.DatasetInputSerializer)
        dataset = services.dataset_create(actor=request.user, **data)
        return self.respond(dataset, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        dataset = self.get_object()
        data = self.validated_input(s.DatasetUpdateInputSerializer, partial=True)
        dataset = services.dataset_update(actor=request.user, dataset=dataset, data=data)
        return self.respond(dataset)


@extend_schema_view(
    **_read_schema(s.DatasetVersionOutputSerializer, tag="dataset versions"),
    create=extend_schema(
        tags=["dataset versions"],
        request={"multipart/form-data": s.DatasetVersionInputSerializer},
        responses={201: s.DatasetVersionOutputSerializer, **UPLOAD_ERRORS},
        description="Register a CSV file as a new, immutable version of a dataset. A file that "
        "does not parse is refused with the line at fault.",
    ),
)
class DatasetVersionViewSet(RegistryViewSet):
    """Uploaded CSV versions of datasets, with their row count and inferred columns."""

    http_method_names = ["get", "post", "head", "options"]
    output_serializer_class = s.DatasetVersionOutputSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_class = filters.DatasetVersionFilterSet
    search_fields = ["version", "dataset__name"]
    ordering_fields = ["registered_at", "version", "size", "row_count"]
    ordering = ["-registered_at", "-id"]

    def get_queryset(self):
        return selectors.dataset_version_list(user=self.request.user)

    def create(self, request):
        self.refuse_roles_that_cannot_create(DatasetVersion)
        data = self.validated_input(s.DatasetVersionInputSerializer)
        version = services.dataset_version_register(actor=request.user, **data)
        return self.respond(version, status_code=status.HTTP_201_CREATED)


# --- Lineage links ------------------------------------------------------------------------------


@extend_schema_view(
    **_read_schema(s.LineageLinkOutputSerializer, tag="lineage"),
    create=extend_schema(
        tags=["lineage"],
        request=s.LineageLinkInputSerializer,
        responses={201: s.LineageLinkOutputSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        tags=["lineage"], responses={204: None, **error_responses(401, 403, 404)}
    ),
)
class LineageLinkViewSet(mixins.DestroyModelMixin, RegistryViewSet):
    """Which dataset versions a model version was trained, validated or evaluated on."""

    http_method_names = ["get", "post", "delete", "head", "options"]
    output_serializer_class = s.LineageLinkOutputSerializer
    filterset_class = filters.LineageLinkFilterSet
    search_fields = ["model_version__model__name", "dataset_version__dataset__name"]
    ordering_fields = ["id", "role"]
    ordering = ["role", "id"]

    def get_queryset(self):
        return selectors.lineage_link_list(user=self.request.user)

    def create(self, request):
        self.refuse_roles_that_cannot_create(LineageLink)
        data = self.validated_input(s.LineageLinkInputSerializer)
        link = services.lineage_link_add(actor=request.user, **data)
        return self.respond(link, status_code=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.lineage_link_remove(actor=self.request.user, link=instance)


# --- Deployments --------------------------------------------------------------------------------


@extend_schema_view(
    **_read_schema(s.DeploymentOutputSerializer, tag="deployments"),
    create=extend_schema(
        tags=["deployments"],
        request=s.DeploymentInputSerializer,
        responses={201: s.DeploymentOutputSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        tags=["deployments"],
        request=s.DeploymentUpdateInputSerializer,
        responses={200: s.DeploymentOutputSerializer, **WRITE_ERRORS},
    ),
)
class DeploymentViewSet(RegistryViewSet):
    """Model versions serving in an environment, with the endpoint controls that shape risk."""

    output_serializer_class = s.DeploymentOutputSerializer
    filterset_class = filters.DeploymentFilterSet
    search_fields = ["model_version__model__name", "endpoint_url"]
    ordering_fields = ["created_at", "environment", "retired_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return selectors.deployment_list(user=self.request.user).select_related("created_by")

    def create(self, request):
        self.refuse_roles_that_cannot_create(Deployment)
        data = self.validated_input(s.DeploymentInputSerializer)
        deployment = services.deployment_create(actor=request.user, **data)
        return self.respond(deployment, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        deployment = self.get_object()
        data = self.validated_input(s.DeploymentUpdateInputSerializer, partial=True)
        deployment = services.deployment_update(
            actor=request.user, deployment=deployment, data=data
        )
        return self.respond(deployment)

    @extend_schema(
        tags=["deployments"],
        request=None,
        responses={
            200: OpenApiResponse(s.DeploymentOutputSerializer, "The retired deployment."),
            **error_responses(401, 403, 404),
        },
        description="Mark the deployment as no longer serving; the record stays for the history. "
        "Retiring a retired deployment changes nothing.",
    )
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        deployment = self.get_object()
        deployment = services.deployment_retire(actor=request.user, deployment=deployment)
        return self.respond(deployment)
