"""GET /api/analytics/calibration and /api/analytics/thresholds (PLAN.md §4.3)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from performance.calibration import calibration
from performance.optimizer import thresholds_report

from ..params import validated
from ..serializers.calibration import CalibrationParams, CalibrationSerializer, ThresholdParams, ThresholdsSerializer
from ..serializers.common import bad_parameters


class CalibrationView(APIView):
    @extend_schema(
        operation_id="calibration",
        summary="Calibration of the unified score",
        description=("For the unified-score buckets 0–55, 55–70, 70–85, 85–100: the observed probability that a "
                     "signal WON at `horizon`, with n and the 95 % Wilson interval, and the bucket's mean unified "
                     "score. Signals whose candle closed in the last `days` days; evaluated outcomes only; an "
                     "empty bucket has null rates. Definitions: docs/performance-tracking.md."),
        parameters=[CalibrationParams],
        responses={200: CalibrationSerializer,
                   400: bad_parameters({"horizon": ["Must be one of: 1h, 4h, 24h, 7d, 30d."]})},
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        params = validated(CalibrationParams, request)
        return Response(CalibrationSerializer(calibration(params["days"], params["horizon"])).data)


class ThresholdsView(APIView):
    @extend_schema(
        operation_id="thresholds",
        summary="Walk-forward threshold suggestions",
        description=("For smart-money accumulation, MSS and RSI oversold: the current threshold, the candidate "
                     "with the best mean 24h return (≥ 10 in-sample outcomes), its in-sample and walk-forward "
                     "out-of-sample n, win rate (Wilson interval) and expectancy. `recommendation` is null, with a "
                     "reason, below 30 out-of-sample outcomes. Nothing is changed: an admin applies a "
                     "recommendation from the ScoringConfig admin. Definitions: docs/performance-tracking.md."),
        parameters=[ThresholdParams],
        responses={200: ThresholdsSerializer, 400: bad_parameters({"days": ["Must be an integer between 1 and 365."]})},
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        params = validated(ThresholdParams, request)
        return Response(ThresholdsSerializer(thresholds_report(params["days"])).data)
