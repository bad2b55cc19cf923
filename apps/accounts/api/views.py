from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from apps.accounts import services
from apps.accounts.api.serializers import (
    TokenLoginErrorSerializer,
    TokenLoginInputSerializer,
    TokenOutputSerializer,
)


class TokenLoginView(APIView):
    """Exchange a username and password (and, for accounts with two-factor authentication, a
    one-time code as `otp`) for an expiring API token, shown once.

    Repeated failures for one username from one address lock sign-ins out for a while (429),
    on the web and here alike.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token-login"

    @extend_schema(
        request=TokenLoginInputSerializer,
        responses={
            200: TokenOutputSerializer,
            400: OpenApiResponse(
                TokenLoginErrorSerializer,
                description="Bad credentials (`non_field_errors`), or a missing or wrong "
                            "one-time code (`otp`).",
            ),
            429: OpenApiResponse(
                TokenLoginErrorSerializer,
                description="Too many attempts: locked out for a while, or throttled.",
            ),
        },
        tags=["auth"],
    )
    def post(self, request):
        data = TokenLoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        instance, token = services.token_issue(request=request, **data.validated_data)
        body = TokenOutputSerializer({
            "token": token, "expiry": instance.expiry,
            "read_only": data.validated_data["read_only"], "name": instance.info.name,
        }).data
        return Response(body, status=status.HTTP_200_OK)
