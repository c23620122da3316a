from django.http import JsonResponse
from django.views.decorators.http import require_GET

from ..health import check_broker, check_database


@require_GET
def healthz(request):
    database, broker = check_database(), check_broker()
    body = {
        "status": "ok" if database and broker else "error",
        "database": "ok" if database else "unavailable",
        "broker": "ok" if broker else "unavailable",
    }
    return JsonResponse(body, status=200 if database and broker else 503)
