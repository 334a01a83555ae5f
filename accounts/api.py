"""GET/PUT /api/account/alerts: the signed-in user's own Telegram alerts."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptosatx.api.serializers.common import bad_request

from .alerts import CHAT_ID_MESSAGE, AlertSettingsSerializer, settings_of

TAGS = ["account"]


class AccountAlertsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="account_alerts", summary="Your Telegram alert settings",
                   responses={200: AlertSettingsSerializer}, tags=TAGS)
    def get(self, request: Request) -> Response:
        return Response(AlertSettingsSerializer(settings_of(request.user), context={"user": request.user}).data)

    @extend_schema(operation_id="account_alerts_update", summary="Set your Telegram chat and the alerts you want",
                   description="`chat_id` is required; the flags left out keep their values. To stop alerts, "
                               "send enabled=false (your delivery history is kept).",
                   request=AlertSettingsSerializer,
                   responses={200: AlertSettingsSerializer, 400: bad_request("A field is invalid.",
                                                                             {"chat_id": [CHAT_ID_MESSAGE]})},
                   tags=TAGS)
    def put(self, request: Request) -> Response:
        serializer = AlertSettingsSerializer(data=request.data, context={"user": request.user})
        serializer.is_valid(raise_exception=True)
        recipient = serializer.save()
        return Response(AlertSettingsSerializer(recipient, context={"user": request.user}).data)
