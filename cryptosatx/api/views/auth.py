"""POST /api/auth/token (username + password → token) and GET /api/auth/me."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..serializers.auth import MeSerializer, TokenSerializer
from ..serializers.common import bad_request


class TokenView(ObtainAuthToken):
    # The credentials are in the body; a browser's session cookie must not make this a CSRF check.
    authentication_classes: list = []

    @extend_schema(operation_id="auth_token", summary="A token for a username and password",
                   request=AuthTokenSerializer, responses={200: TokenSerializer, 400: bad_request(
                       "Missing fields or wrong credentials.",
                       {"non_field_errors": ["Unable to log in with provided credentials."]})},
                   tags=["auth"])
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="auth_me", summary="The user the request is authenticated as",
                   responses={200: MeSerializer}, tags=["auth"])
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)
