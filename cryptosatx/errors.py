"""Error pages: under /api/ the answer is JSON (`{"detail": ...}`, as DRF's own errors), so an API
client never has to parse Django's HTML page — e.g. for /api/scans/abc, which no route matches."""
from django.http import JsonResponse
from django.views import defaults


def _api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _api(request):
        return JsonResponse({"detail": "Server error: the failure is logged."}, status=500)
    return defaults.server_error(request)
