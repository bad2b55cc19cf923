from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.health import components_down


@never_cache
@require_GET
def healthz(request):
    """Public liveness probe: 200 when web, database and broker answer, else 503 naming what is
    down."""
    down = components_down()
    if down:
        return JsonResponse({"status": "unavailable", "down": down}, status=503)
    return JsonResponse({"status": "ok"})
