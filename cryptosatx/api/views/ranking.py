"""GET /api/scan/unified-ranking — every coin's latest unified score, best first."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import queries
from ..pagination import paginate
from ..params import RankingParams, validated
from ..serializers.common import bad_parameters
from ..serializers.ranking import RankingSerializer


class UnifiedRankingView(APIView):
    @extend_schema(
        operation_id="unified_ranking",
        summary="The unified ranking",
        description=("Each coin's latest unified score (SCORING.md §6), ordered by score, highest first; coins "
                     "without a score come last, ties by symbol. Filters combine with AND. Not financial advice."),
        parameters=[RankingParams],
        responses={200: RankingSerializer, 400: bad_parameters({"min_score": ["Must be a number between 0 and 100."]})},
        tags=["ranking"],
    )
    def get(self, request: Request) -> Response:
        params = validated(RankingParams, request)
        summary = queries.ranking_summary()
        rows = queries.ranking(params.get("tier"), params.get("min_score"), params.get("scanner"))
        page = paginate(request, rows, limit=params["limit"], offset=params["offset"])
        for rank, score in enumerate(page.results, start=params["offset"] + 1):
            score.rank = rank
        return Response(RankingSerializer({**summary, **vars(page)}, context={"request": request}).data)
