from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from apps.accounts import services
from apps.accounts.api.serializers import TokenLoginInputSerializer, TokenOutputSerializer


class TokenLoginView(APIView):
    """Exchange a username and password for an expiring API token (shown once)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token-login"

    @extend_schema(
        request=TokenLoginInputSerializer,
        responses={200: TokenOutputSerializer, 400: OpenApiResponse(description="Bad credentials")},
        tags=["auth"],
    )
    def post(self, request):
        data = TokenLoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        instance, token = services.token_issue(request=request, **data.validated_data)
        body = TokenOutputSerializer({"token": token, "expiry": instance.expiry}).data
        return Response(body, status=status.HTTP_200_OK)
