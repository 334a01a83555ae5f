"""/api/portfolio/…: the requesting user's trades only. Another user's trade is a 404, never data."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptosatx.api.serializers.common import NOT_FOUND, bad_request
from signals.models import Signal

from . import trades as ops
from .models import Trade
from .serializers import CloseSerializer, FromSignalSerializer, PerformanceSerializer, TradeSerializer
from .valuation import performance, value_trades

TAGS = ["portfolio"]
INVALID = bad_request("A field is invalid: {field: [what is wrong]}.", {"exit_price": ["Must be a number greater than 0."]})


def own_trades(request: Request):
    return Trade.objects.filter(owner=request.user).select_related("coin")


def render(trades: list[Trade], many: bool = False) -> dict | list:
    valuations = {v.trade.pk: v for v in value_trades(trades)}
    data = TradeSerializer(trades, many=True, valuations=valuations).data
    return data if many else data[0]


class StatusParams(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Trade.OPEN, Trade.CLOSED], required=False)


class TradeListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="portfolio_trades_list", summary="Your trades, newest first, with their P&L",
                   parameters=[OpenApiParameter("status", str, enum=[Trade.OPEN, Trade.CLOSED])],
                   responses={200: TradeSerializer(many=True), 400: INVALID}, tags=TAGS)
    def get(self, request: Request) -> Response:
        params = StatusParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        trades = own_trades(request)
        if params.validated_data.get("status"):
            trades = trades.filter(status=params.validated_data["status"])
        return Response(render(list(trades), many=True))

    @extend_schema(operation_id="portfolio_trades_create", summary="Add a trade by hand",
                   description="Open by default; with exit_price it is entered closed (a past trade).",
                   request=TradeSerializer, responses={201: TradeSerializer, 400: INVALID}, tags=TAGS)
    def post(self, request: Request) -> Response:
        serializer = TradeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        trade = serializer.save(owner=request.user)
        return Response(render([trade]), status=status.HTTP_201_CREATED)


class TradeDetailView(APIView):
    permission_classes = [IsAuthenticated]

    def trade(self, request: Request, pk: int) -> Trade:
        return get_object_or_404(own_trades(request), pk=pk)

    @extend_schema(operation_id="portfolio_trades_retrieve", summary="One of your trades",
                   responses={200: TradeSerializer, 404: NOT_FOUND}, tags=TAGS)
    def get(self, request: Request, pk: int) -> Response:
        return Response(render([self.trade(request, pk)]))

    @extend_schema(operation_id="portfolio_trades_update", summary="Edit a trade",
                   description="The coin and status do not change here; close with POST …/close.",
                   request=TradeSerializer, responses={200: TradeSerializer, 400: INVALID, 404: NOT_FOUND}, tags=TAGS)
    def patch(self, request: Request, pk: int) -> Response:
        serializer = TradeSerializer(self.trade(request, pk), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(render([serializer.save()]))

    @extend_schema(operation_id="portfolio_trades_destroy", summary="Delete a trade",
                   responses={204: None, 404: NOT_FOUND}, tags=TAGS)
    def delete(self, request: Request, pk: int) -> Response:
        self.trade(request, pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class TradeCloseView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="portfolio_trades_close", summary="Close a trade at an exit price",
                   request=CloseSerializer, responses={200: TradeSerializer, 400: INVALID, 404: NOT_FOUND}, tags=TAGS)
    def post(self, request: Request, pk: int) -> Response:
        trade = get_object_or_404(own_trades(request), pk=pk)
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            ops.close(trade, **body.validated_data)
        except ValidationError as exc:
            return Response(ops.field_errors(exc), status=status.HTTP_400_BAD_REQUEST)
        return Response(render([trade]))


class TradeFromSignalView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="portfolio_trades_from_signal", summary="Enter a trade from a signal",
                   description="Coin and side from the signal (SHORT → short), entry price default the signal's "
                               "entry_price, quantity default 100 USDT's worth at that price.",
                   request=FromSignalSerializer, responses={201: TradeSerializer, 400: INVALID, 404: NOT_FOUND},
                   tags=TAGS)
    def post(self, request: Request, signal_id: int) -> Response:
        signal = get_object_or_404(Signal.objects.select_related("coin"), pk=signal_id)
        body = FromSignalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            trade = ops.from_signal(request.user, signal, **body.validated_data)
        except ValidationError as exc:
            return Response(ops.field_errors(exc), status=status.HTTP_400_BAD_REQUEST)
        return Response(render([trade]), status=status.HTTP_201_CREATED)


class PerformanceView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="portfolio_performance", summary="Your portfolio's P&L at current prices",
                   description="Current price = each coin's latest stored candle close (`prices.simulated` says "
                               "whether it came from the simulator). Open trades whose coin has no stored price "
                               "are listed in `unpriced` and left out of the totals, never valued at 0.",
                   responses={200: PerformanceSerializer}, tags=TAGS)
    def get(self, request: Request) -> Response:
        return Response(PerformanceSerializer(performance(list(own_trades(request)))).data)
