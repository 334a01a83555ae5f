"""/api/watchlists…: a user's own watchlists. Every lookup is filtered by owner, so another user's
watchlist is a 404, exactly like one that does not exist."""
from __future__ import annotations

from django.db.models import Count, Max, Prefetch, QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptosatx.api import queries
from cryptosatx.api.pagination import paginate
from cryptosatx.api.params import PageParams, RankingParams, validated
from cryptosatx.api.serializers.common import NOT_FOUND, bad_parameters, bad_request
from scanners.models import ScanRun
from signals.models import AlertDelivery, Signal

from .models import Watchlist
from .scanning import SCANS_PER_MINUTE, scan_watchlist, seconds_until_allowed
from .serializers import (CoinsSerializer, PlanCreateSerializer, ScanFailedSerializer, WatchlistPageSerializer,
                          WatchlistScanSerializer, WatchlistSerializer, WatchlistSignalPageSerializer)

MAX_ID = 2**63 - 1  # larger ids cannot exist, and SQLite cannot even bind them
ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The watchlist's id (yours only).")
UNKNOWN = bad_request("A field is invalid: {field: [message]}; unknown symbols are named.",
                      {"coins": ["Unknown symbols: NOPE, FAKEUSDT. Use a symbol such as BTCUSDT or a base asset "
                                 "such as BTC."]})
TAGS = ["watchlists"]


def own_watchlists(user) -> QuerySet[Watchlist]:
    return Watchlist.objects.filter(owner=user).prefetch_related("coins")


def own_watchlist(user, pk: int) -> Watchlist:
    watchlist = own_watchlists(user).filter(pk=pk).first() if pk <= MAX_ID else None
    if watchlist is None:
        raise NotFound(f"Unknown watchlist: {pk}")
    return watchlist


class OwnerOnly(APIView):
    permission_classes = [IsAuthenticated]


def _created(request: Request, serializer) -> Response:
    serializer.is_valid(raise_exception=True)
    watchlist = serializer.save()
    body = WatchlistSerializer(own_watchlist(request.user, watchlist.pk)).data
    return Response(body, status=201, headers={"Location": reverse("api:watchlist-detail", args=[watchlist.pk])})


class WatchlistListView(OwnerOnly):
    @extend_schema(operation_id="watchlist_list", summary="Your watchlists, by name", parameters=[PageParams],
                   responses={200: WatchlistPageSerializer, 400: bad_parameters({"limit": ["Must be an integer "
                                                                                          "between 1 and 500."]})},
                   tags=TAGS)
    def get(self, request: Request) -> Response:
        params = validated(PageParams, request)
        page = paginate(request, own_watchlists(request.user), limit=params["limit"], offset=params["offset"])
        return Response(WatchlistPageSerializer(vars(page)).data)

    @extend_schema(operation_id="watchlist_create", summary="Create a watchlist", request=WatchlistSerializer,
                   responses={201: WatchlistSerializer, 400: UNKNOWN}, tags=TAGS)
    def post(self, request: Request) -> Response:
        return _created(request, WatchlistSerializer(data=request.data, context={"owner": request.user}))


class WatchlistPlanCreateView(OwnerOnly):
    @extend_schema(operation_id="watchlist_create_plan", summary="Create a watchlist (PLAN.md §5.1's body)",
                   description="The same as POST /api/watchlists, with the plan's body {user_id, name, coins}; "
                               "user_id is optional and must be your own.",
                   request=PlanCreateSerializer, responses={201: WatchlistSerializer, 400: UNKNOWN}, tags=TAGS)
    def post(self, request: Request) -> Response:
        return _created(request, PlanCreateSerializer(data=request.data, context={"owner": request.user}))


class WatchlistDetailView(OwnerOnly):
    @extend_schema(operation_id="watchlist_detail", summary="One of your watchlists", parameters=[ID],
                   responses={200: WatchlistSerializer, 404: NOT_FOUND}, tags=TAGS)
    def get(self, request: Request, pk: int) -> Response:
        return Response(WatchlistSerializer(own_watchlist(request.user, pk)).data)

    def _update(self, request: Request, pk: int, partial: bool) -> Response:
        watchlist = own_watchlist(request.user, pk)
        serializer = WatchlistSerializer(watchlist, data=request.data, partial=partial,
                                         context={"owner": request.user})
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(WatchlistSerializer(own_watchlist(request.user, pk)).data)

    @extend_schema(operation_id="watchlist_replace", summary="Replace a watchlist's fields",
                   description="`name` is required; the other fields keep their values when left out.",
                   parameters=[ID], request=WatchlistSerializer,
                   responses={200: WatchlistSerializer, 400: UNKNOWN, 404: NOT_FOUND}, tags=TAGS)
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(operation_id="watchlist_update", summary="Change some of a watchlist's fields", parameters=[ID],
                   request=WatchlistSerializer, responses={200: WatchlistSerializer, 400: UNKNOWN, 404: NOT_FOUND},
                   tags=TAGS)
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=True)

    @extend_schema(operation_id="watchlist_delete", summary="Delete a watchlist and its schedule", parameters=[ID],
                   responses={204: None, 404: NOT_FOUND}, tags=TAGS)
    def delete(self, request: Request, pk: int) -> Response:
        own_watchlist(request.user, pk).delete()  # its Schedule goes with it (watchlists.apps)
        return Response(status=204)


class WatchlistCoinsView(OwnerOnly):
    @extend_schema(operation_id="watchlist_coins", summary="Replace a watchlist's coins", parameters=[ID],
                   request=CoinsSerializer, responses={200: WatchlistSerializer, 400: UNKNOWN, 404: NOT_FOUND},
                   tags=TAGS)
    def put(self, request: Request, pk: int) -> Response:
        watchlist = own_watchlist(request.user, pk)
        serializer = CoinsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        WatchlistSerializer(watchlist, context={"owner": request.user}).update(
            watchlist, {"coins": serializer.validated_data["coins"]})
        return Response(WatchlistSerializer(own_watchlist(request.user, pk)).data)


class WatchlistScanView(OwnerOnly):
    @extend_schema(
        operation_id="watchlist_scan", summary="Scan a watchlist's coins now and rank them",
        description=("Runs every scanner over the watchlist's coins now (a stored scan run, whose signals raise "
                     "alerts as any scan's), then answers the unified ranking restricted to those coins, with the "
                     f"ranking's filters and rows. At most {SCANS_PER_MINUTE} on-demand scans a minute per user "
                     "(429 with Retry-After beyond). A scan that could fetch nothing (the exchange down) is a 503 "
                     "with its run, not old scores passed off as fresh. Not financial advice."),
        parameters=[ID, RankingParams],
        responses={200: WatchlistScanSerializer, 400: bad_parameters({"tier": ["Each value must be one of: TIER_1, "
                                                                               "TIER_2, TIER_3, TIER_4."]}),
                   404: NOT_FOUND, 503: ScanFailedSerializer}, tags=TAGS)
    def get(self, request: Request, pk: int) -> Response:
        watchlist = own_watchlist(request.user, pk)
        params = validated(RankingParams, request)
        wait = seconds_until_allowed(request.user.pk)
        if wait:
            raise Throttled(wait=wait, detail=f"Too many scans: try again in {wait} s.")
        result = scan_watchlist(watchlist)
        if result.run is not None and result.run.status == ScanRun.FAILED:
            first = (result.run.errors or [{}])[0].get("error", "unknown error")
            return Response(ScanFailedSerializer({"detail": f"The scan failed: {first}", "run": result.run}).data,
                            status=503)
        coin_ids = [c.pk for c in watchlist.coins.all()]
        scored = queries.latest_scores().filter(coin_id__in=coin_ids)
        summary = scored.aggregate(total_scanned=Count("pk"), timestamp=Max("computed_at"))
        rows = queries.ranking(params.get("tier"), params.get("min_score"), params.get("scanner")).filter(
            coin_id__in=coin_ids)
        page = paginate(request, rows, limit=params["limit"], offset=params["offset"])
        for rank, score in enumerate(page.results, start=params["offset"] + 1):
            score.rank = rank
        have = set(scored.values_list("coin_id", flat=True))
        not_scored = sorted(c.symbol for c in watchlist.coins.all() if c.pk not in have)
        body = {**summary, **vars(page), "watchlist": watchlist, "run": result.run, "not_scored": not_scored,
                "not_trading": result.not_trading}
        return Response(WatchlistScanSerializer(body, context={"request": request}).data)


class WatchlistAlertsView(OwnerOnly):
    @extend_schema(operation_id="watchlist_alerts", summary="Signals on a watchlist's coins, newest first",
                   description="Every signal raised on the watchlist's coins, with your own Telegram delivery of "
                               "each (null when none was made for you).",
                   parameters=[ID, PageParams],
                   responses={200: WatchlistSignalPageSerializer, 400: bad_parameters(
                       {"offset": ["Must be an integer of 0 or more."]}), 404: NOT_FOUND}, tags=TAGS)
    def get(self, request: Request, pk: int) -> Response:
        watchlist = own_watchlist(request.user, pk)
        params = validated(PageParams, request)
        own = AlertDelivery.objects.filter(recipient__user=request.user).order_by("pk")
        signals = (Signal.objects.filter(coin__in=[c.pk for c in watchlist.coins.all()]).select_related("coin")
                   .defer("inputs", "scores", "missing")
                   .prefetch_related(Prefetch("deliveries", queryset=own, to_attr="own_deliveries"))
                   .order_by("-created_at", "-pk"))
        page = paginate(request, signals, limit=params["limit"], offset=params["offset"])
        return Response(WatchlistSignalPageSerializer(vars(page)).data)
