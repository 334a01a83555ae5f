"""POST /api/backtests (start one: 202 with its id), GET /api/backtests (your runs, newest first),
GET and DELETE /api/backtests/{id}. A user sees and touches only their own backtests: anyone else's
id answers 404, exactly like an id that does not exist."""
from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, Throttled, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptosatx.api.pagination import paginate
from cryptosatx.api.params import PageParams, validated
from cryptosatx.api.serializers.common import NOT_FOUND, FreeJSONField, bad_request

from .models import BacktestRun
from .service import TooManyRunning, start_backtest
from .strategy import StrategyError
from .tasks import reap_stale

MAX_ID = 2**63 - 1
EXAMPLE = {"name": "RSI dip", "scanners": ["rsi"], "entry_rules": {"min_unified_score": 70, "min_confirmations": 0},
           "exit_rules": {"take_profit": 5, "stop_loss": 3, "time_limit_hours": 48},
           "position_size": 1000, "position_sizing": "usdt", "initial_capital": 10000, "fees": 0.1,
           "slippage": 0.05, "start": "2026-11-01T00:00:00Z", "end": "2026-11-08T00:00:00Z",
           "coins": ["BTCUSDT", "ETHUSDT"], "signal_step_hours": 1}


class BacktestSummarySerializer(serializers.ModelSerializer):
    metrics = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = BacktestRun
        fields = ["id", "name", "status", "progress", "error", "created_at", "started_at", "finished_at",
                  "metrics", "url"]

    def get_metrics(self, run: BacktestRun) -> dict | None:
        return (run.results or {}).get("metrics")

    def get_url(self, run: BacktestRun) -> str:
        return f"/api/backtests/{run.pk}"


class BacktestSerializer(BacktestSummarySerializer):
    strategy = FreeJSONField()
    results = FreeJSONField(help_text="metrics, equity_curve [{time, equity}] (≤ 1,000 points), trades, data, "
                                      "seconds; null until done.")

    class Meta(BacktestSummarySerializer.Meta):
        fields = [*BacktestSummarySerializer.Meta.fields, "strategy", "results"]


class BacktestPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = BacktestSummarySerializer(many=True)


class BacktestStrategySerializer(serializers.Serializer):
    """Documentation only: the body is checked by backtest.strategy.parse_strategy."""
    scanners = serializers.ListField(child=serializers.CharField())
    entry_rules = serializers.JSONField()
    exit_rules = serializers.JSONField()
    position_size = serializers.FloatField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    coins = serializers.ListField(child=serializers.CharField())


def _own(request: Request, pk: int) -> BacktestRun:
    if pk > MAX_ID:
        raise NotFound(f"Unknown backtest: {pk}")
    reap_stale(BacktestRun.objects.filter(pk=pk, owner=request.user))
    run = BacktestRun.objects.filter(pk=pk, owner=request.user).first()
    if run is None:
        raise NotFound(f"Unknown backtest: {pk}")
    return run


class BacktestListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="backtest_list", summary="Your backtests, newest first", parameters=[PageParams],
                   responses={200: BacktestPageSerializer, 400: bad_request(
                       "A query parameter is invalid: {parameter: [what is allowed]}.",
                       {"offset": ["Must be an integer of at least 0."]})}, tags=["backtests"])
    def get(self, request: Request) -> Response:
        params = validated(PageParams, request)
        reap_stale(BacktestRun.objects.filter(owner=request.user))
        page = paginate(request, BacktestRun.objects.filter(owner=request.user).order_by("-created_at", "-pk"),
                        limit=params["limit"], offset=params["offset"])
        return Response(BacktestPageSerializer(vars(page)).data)

    @extend_schema(operation_id="backtest_create", summary="Start a backtest (a django-q2 job)",
                   description="Validates the strategy, queues the job and answers 202 with the run; poll "
                               "GET /api/backtests/{id} until `status` is done or failed.",
                   request=BacktestStrategySerializer, examples=[OpenApiExample("Strategy", value=EXAMPLE)],
                   responses={202: BacktestSummarySerializer, 400: bad_request(
                       "A field of the strategy is invalid: {field: [what is wrong]}.",
                       {"exit_rules.take_profit": ["Must be greater than 0."]})}, tags=["backtests"])
    def post(self, request: Request) -> Response:
        try:
            with transaction.atomic():
                run = start_backtest(request.user, request.data)
        except StrategyError as exc:
            raise ValidationError(exc.errors) from exc
        except TooManyRunning as exc:
            raise Throttled(detail=str(exc)) from exc
        data = BacktestSummarySerializer(run).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


class BacktestDetailView(APIView):
    permission_classes = [IsAuthenticated]
    ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The backtest's id.")

    @extend_schema(operation_id="backtest_detail", summary="One of your backtests, with its results",
                   parameters=[ID], responses={200: BacktestSerializer, 404: NOT_FOUND}, tags=["backtests"])
    def get(self, request: Request, pk: int) -> Response:
        return Response(BacktestSerializer(_own(request, pk)).data)

    @extend_schema(operation_id="backtest_delete", summary="Delete one of your backtests", parameters=[ID],
                   responses={204: None, 404: NOT_FOUND}, tags=["backtests"])
    def delete(self, request: Request, pk: int) -> Response:
        _own(request, pk).delete()  # a job still queued finds its row gone and does nothing
        return Response(status=status.HTTP_204_NO_CONTENT)
