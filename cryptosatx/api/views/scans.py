"""GET /api/scans and /api/scans/{id} — the scan runs, newest first."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scanners.models import ScanRun

from ..pagination import paginate
from ..params import ScanListParams, validated
from ..serializers.common import NOT_FOUND, bad_parameters
from ..serializers.scans import ScanRunPageSerializer, ScanRunSerializer

MAX_ID = 2**63 - 1  # larger ids cannot exist, and SQLite cannot even bind them


class ScanListView(APIView):
    @extend_schema(operation_id="scan_list", summary="Scan runs, newest first", parameters=[ScanListParams],
                   responses={200: ScanRunPageSerializer, 400: bad_parameters({"limit": ["Must be an integer between 1 and 500."]})}, tags=["scans"])
    def get(self, request: Request) -> Response:
        params = validated(ScanListParams, request)
        runs = ScanRun.objects.order_by("-started_at", "-pk")
        if "scanner" in params:
            runs = runs.filter(scanner=params["scanner"])
        if "status" in params:
            runs = runs.filter(status=params["status"])
        page = paginate(request, runs, limit=params["limit"], offset=params["offset"])
        return Response(ScanRunPageSerializer(vars(page), context={"request": request}).data)


class ScanDetailView(APIView):
    @extend_schema(operation_id="scan_detail", summary="One scan run, with all its errors",
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The scan run's id.")],
                   responses={200: ScanRunSerializer, 404: NOT_FOUND}, tags=["scans"])
    def get(self, request: Request, pk: int) -> Response:
        run = ScanRun.objects.filter(pk=pk).first() if pk <= MAX_ID else None
        if run is None:
            raise NotFound(f"Unknown scan: {pk}")
        return Response(ScanRunSerializer(run, context={"request": request}).data)
