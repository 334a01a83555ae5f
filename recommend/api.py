"""GET /api/recommendations: your pattern (from your own closed trades only) and current signals scored."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptosatx.api.serializers.common import FreeJSONField, bad_parameters

from .recommendations import recommendations


class Params(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=50, default=10)


class RecommendedSerializer(serializers.Serializer):
    signal_id = serializers.IntegerField()
    symbol = serializers.CharField()
    scanner = serializers.CharField()
    kind = serializers.CharField()
    direction = serializers.CharField()
    tier = serializers.IntegerField()
    score = serializers.FloatField(allow_null=True)
    unified_score = serializers.FloatField(allow_null=True)
    entry_price = serializers.FloatField(allow_null=True)
    candle_close_time = serializers.DateTimeField()
    simulated = serializers.BooleanField()
    win_probability = serializers.FloatField(help_text="The model's probability of a WIN at 24h (SCORING.md §8).")
    confidence = serializers.IntegerField(allow_null=True, help_text=(
        "win_probability in percent, only when the model beat the base rate on held-out signals; else null."))
    lift = serializers.FloatField(allow_null=True, help_text="win_probability / the test set's base rate.")
    matches_your_pattern = serializers.ListField(child=serializers.CharField(), help_text=(
        "Parts of your measured pattern this signal shares: scanner, score_range, coin_type."))


class RecommenderSummarySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["trained", "refused", "untrained"])
    horizon = serializers.CharField()
    trained_at = serializers.DateTimeField(allow_null=True)
    auc = serializers.FloatField(allow_null=True, help_text="ROC AUC on newer signals held out of training.")
    auc_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True, help_text="95% interval.")
    base_rate = serializers.FloatField(allow_null=True, help_text="Share of WINs among those test signals.")
    n_train = serializers.IntegerField()
    n_test = serializers.IntegerField()
    better_than_base_rate = serializers.BooleanField(help_text="The AUC's 95% interval lies above 0.5.")
    verdict = serializers.CharField()


class RecommendationsSerializer(serializers.Serializer):
    your_success_pattern = FreeJSONField(help_text=(
        "From your closed trades: n, wins, win_rate, preferred_scanner, optimal_score_range, best_coin_type, "
        "avg_hold_time, avg_gain, message. With n = 0 every figure is null."))
    recommended_now = RecommendedSerializer(many=True)
    note = serializers.CharField(allow_blank=True, help_text="Why recommended_now is empty, when it is.")
    model = RecommenderSummarySerializer()


class RecommendationsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="recommendations", summary="Your success pattern and current signals scored",
                   parameters=[OpenApiParameter("limit", int, description="1–50, default 10.")],
                   responses={200: RecommendationsSerializer, 400: bad_parameters({"limit": ["Ensure this value "
                                                                                            "is less than or equal to 50."]})},
                   tags=["recommendations"])
    def get(self, request: Request) -> Response:
        params = Params(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(recommendations(request.user, limit=params.validated_data["limit"]))
