"""GET /api/reports/monthly — the monthly performance report (PLAN.md §4.3) as JSON, the same data as
/reports/monthly."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from performance.reports import monthly_report

from ..params import validated
from ..serializers.common import bad_parameters
from ..serializers.reports import MonthlyReportParams, MonthlyReportSerializer


class MonthlyReportView(APIView):
    @extend_schema(
        operation_id="monthly_report",
        summary="Monthly performance report",
        description=("The signals whose candle closed in the calendar month and their outcome at `horizon`: overall "
                     "statistics (only evaluated outcomes enter a rate, each with its n and 95 % Wilson interval; "
                     "the Sharpe ratio is null with its reason below n = 30), the best scanner buckets with at "
                     "least 10 outcomes ranked by the lower Wilson bound of their win rate, threshold suggestions "
                     "when performance.optimizer provides them, and the top 10 signals by the trade's return. "
                     "Definitions: docs/performance-tracking.md. Not financial advice."),
        parameters=[MonthlyReportParams],
        responses={200: MonthlyReportSerializer,
                   400: bad_parameters({"month": ["Must be a month written YYYY-MM, e.g. 2025-11."]})},
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        params = validated(MonthlyReportParams, request)
        year, month = params["month"]
        return Response(MonthlyReportSerializer(monthly_report(year, month, params["horizon"])).data)
