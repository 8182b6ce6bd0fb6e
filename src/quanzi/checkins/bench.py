"""The baseline of ``benchmarks/rush.py``: a bare Django view doing one INSERT.

Mounted only when ``QUANZI_BENCH_URLS=1`` (see ``urls.py``), so production never serves it.
It is deliberately the plainest possible Django view: no authentication, no API framework,
one ORM ``create`` in autocommit mode.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from quanzi.core.models import DomainEvent


@csrf_exempt
@require_POST
def bare_insert(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    row = DomainEvent.objects.create(type="bench.insert", day=now.date(), data={})
    return JsonResponse({"id": row.id}, status=201)
