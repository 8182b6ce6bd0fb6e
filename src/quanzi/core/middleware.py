"""Refuse NUL characters in the path, query string and form fields of every request."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

from .text import NUL


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._has_nul(request):
            message = _("Text may not contain NUL characters.")
            if request.path.startswith("/api/"):
                return JsonResponse({"code": "invalid_text", "message": message}, status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)

    @staticmethod
    def _has_nul(request: HttpRequest) -> bool:
        if NUL in request.path:
            return True
        if any(NUL in k or any(NUL in v for v in vs) for k, vs in request.GET.lists()):
            return True
        content_type = request.content_type or ""
        if request.method == "POST" and content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return any(NUL in k or any(NUL in v for v in vs) for k, vs in request.POST.lists())
        return False
