from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .recommendations import recommendations
from .trainer import MIN_TEST, MIN_TRAIN


@login_required
def recommendations_page(request):
    return render(request, "recommend/recommendations.html",
                  {"r": recommendations(request.user), "min_train": MIN_TRAIN, "min_test": MIN_TEST})
