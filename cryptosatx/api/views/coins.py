"""GET /api/coins/{symbol} — one coin with its scores, scanner results, freshness and history."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketdata.models import Coin, DataSource
from scanners.models import ScanResult
from signals.models import UnifiedScore

from .. import queries
from ..serializers.coins import CoinDetailSerializer
from ..serializers.common import NOT_FOUND


@dataclass
class CoinDetail:
    coin: Coin
    unified: UnifiedScore | None
    scanners: dict[str, ScanResult]
    freshness: dict[str, Any]
    history: list[UnifiedScore]


def source_freshness(source: DataSource) -> dict[str, Any]:
    age = None
    if source.last_success_at is not None:
        age = round((timezone.now() - source.last_success_at).total_seconds(), 1)
    return {"last_success_at": source.last_success_at, "age_seconds": age, "simulated": source.simulated,
            "last_error": source.last_error, "last_error_at": source.last_error_at,
            "banned_until": source.banned_until}


class CoinDetailView(APIView):
    @extend_schema(
        operation_id="coin_detail",
        summary="One coin",
        parameters=[OpenApiParameter("symbol", str, OpenApiParameter.PATH,
                                     description="The trading pair, e.g. BTCUSDT (case-insensitive).")],
        responses={200: CoinDetailSerializer, 404: NOT_FOUND},
        tags=["coins"],
    )
    def get(self, request: Request, symbol: str) -> Response:
        coin = queries.find_coin(symbol)
        if coin is None:
            raise NotFound(f"Unknown symbol: {symbol.strip().upper()[:64]}")
        unified = queries.latest_unified(coin)
        if unified is not None:
            unified.rank = queries.ranking_position(unified)
        results = queries.latest_results(coin)
        freshness = {"sources": {s.name: source_freshness(s) for s in DataSource.objects.order_by("name")},
                     "inputs": queries.input_times(list(results.values()))}
        detail = CoinDetail(coin, unified, results, freshness, queries.score_history(coin))
        return Response(CoinDetailSerializer(detail, context={"request": request}).data)
