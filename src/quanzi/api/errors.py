"""Every failure leaves the API as JSON ``{"code", "message"}`` with the right status.

Domain errors carry their own code and status (``QuanziError``); the handlers here
translate the framework's own exceptions (validation, malformed JSON, auth, 404) into
the same shape so a client needs one error parser.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from quanzi.core.errors import QuanziError, RateLimited

from .parser import NotAJSONObject, NulInText

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def _retry_after_header(response: HttpResponse, seconds: float) -> HttpResponse:
    # RFC 9110: delta-seconds, an integer, rounded up so the client never retries early.
    response["Retry-After"] = str(max(1, int(-(-seconds // 1))))
    return response


def _describe_location(loc: list[Any] | tuple[Any, ...]) -> str:
    # ninja's locations start with the source ("body", "query", "path") and the
    # parameter model's name for bodies ("payload"); the field path is what people read.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "form", "file", "header", "cookie"}:
        parts = parts[1:]
        if parts and parts[0] in {"payload", "page"}:
            parts = parts[1:] or [_("request body")]
    return ".".join(parts) or "request"


def readable_validation_message(errors: list[dict[str, Any]]) -> str:
    shown = [f"{_describe_location(err.get('loc', ()))}: {err.get('msg', _('invalid value'))}" for err in errors[:3]]
    more = len(errors) - len(shown)
    text = "; ".join(shown)
    if more > 0:
        text += " " + _("(and %(n)d more)") % {"n": more}
    return _("Invalid input — %(details)s.") % {"details": text}


def _json_safe_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic puts exception objects in ``ctx``; keep only what serialises."""
    safe = []
    for err in errors:
        item = {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
        safe.append(item)
    return safe


def install_error_handlers(api: NinjaAPI) -> None:
    """Register the JSON error handlers on ``api`` (replacing ninja's ``{"detail"}`` ones)."""

    def respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
        return api.create_response(request, body, status=status)

    @api.exception_handler(QuanziError)
    def quanzi_error(request: HttpRequest, exc: QuanziError) -> HttpResponse:
        response = respond(request, exc.status, exc.as_dict())
        if isinstance(exc, RateLimited):
            _retry_after_header(response, exc.retry_after)
        return response

    @api.exception_handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = _json_safe_errors(list(exc.errors))
        body = error_body("validation_error", readable_validation_message(errors), errors=errors)
        return respond(request, 422, body)

    @api.exception_handler(AuthenticationError)
    def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = respond(
            request, 401, error_body("not_authenticated", _("Sign in or send a valid bearer token."))
        )
        response["WWW-Authenticate"] = 'Bearer realm="quanzi"'
        return response

    @api.exception_handler(Throttled)
    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        wait = float(exc.wait or 1)
        body = error_body("rate_limited", _("Too many requests; try again later."), retry_after=round(wait, 1))
        return _retry_after_header(respond(request, 429, body), wait)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, NotAJSONObject):
            return respond(request, 400, error_body("malformed_json", _("The request body must be a JSON object.")))
        if exc.status_code == 400 and isinstance(exc.__cause__, NulInText):
            return respond(request, 400, error_body("invalid_text", _("Text may not contain NUL characters.")))
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
            # ninja wraps the parser's JSONDecodeError / UnicodeDecodeError.
            return respond(request, 400, error_body("malformed_json", _("The request body is not valid JSON.")))
        codes = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "too_large", 429: "rate_limited"}
        return respond(request, exc.status_code, error_body(codes.get(exc.status_code, "error"), str(exc)))

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404, error_body("not_found", _("Not found.")))

    @api.exception_handler(json.JSONDecodeError)
    def malformed_json(request: HttpRequest, exc: json.JSONDecodeError) -> HttpResponse:
        return respond(request, 400, error_body("malformed_json", _("The request body is not valid JSON.")))
