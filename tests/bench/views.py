"""The bench-only view: one password check with the configured (production) hasher."""

from django.contrib.auth.hashers import check_password, make_password
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

BENCH_PASSWORD = "bench password for the hash-bound limit"  # noqa: S105 (a fixed test value)
# Made once per worker process, when the URLconf is first loaded.
STORED_HASH = make_password(BENCH_PASSWORD)


@csrf_exempt
@require_POST
def hash_check(request: HttpRequest) -> HttpResponse:
    """Check BENCH_PASSWORD against STORED_HASH: 204 when it matches, 500 otherwise."""
    if not check_password(BENCH_PASSWORD, STORED_HASH):
        return HttpResponse("hash check failed", status=500, content_type="text/plain")
    return HttpResponse(status=204)
