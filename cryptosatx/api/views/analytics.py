"""GET /api/analytics/win-rates — how the signals turned out, with every rate's n and interval."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from performance.queries import win_rates

from ..params import validated
from ..serializers.analytics import WinRateParams, WinRatesSerializer
from ..serializers.common import bad_parameters


class WinRatesView(APIView):
    @extend_schema(
        operation_id="win_rates",
        summary="Win rates of the signals",
        description=("Outcomes (SCORING.md §8) at one horizon of the signals whose candle closed in the last `days` "
                     "days: overall, by scanner bucket and by alert tier. Only evaluated outcomes enter a rate; "
                     "each rate has its n and 95 % Wilson interval; pending and unavailable outcomes are counted "
                     "apart. Definitions: docs/performance-tracking.md. Not financial advice."),
        parameters=[WinRateParams],
        responses={200: WinRatesSerializer, 400: bad_parameters({"days": ["Must be an integer between 1 and 365."]})},
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        params = validated(WinRateParams, request)
        return Response(WinRatesSerializer(win_rates(params["days"], params["horizon"])).data)
