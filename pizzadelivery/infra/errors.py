"""Every API error is JSON ``{"error": code, "detail": text}`` with the right status."""
from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_ratelimit.exceptions import Ratelimited
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A refused change: carries the API's error code and status. Raised by a service before
    it changes anything; an event batch refused this way leaves no trace."""

    code = "invalid_request"
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, *, code: str | None = None, status_code: int | None = None,
                 message: Any = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail  # English, for the API (the contract's "detail")
        # For a page: the same in the page's language (lazy, translated as it renders).
        self.message = message if message is not None else detail
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.extra = extra


@extend_schema_field({"oneOf": [
    {"type": "array", "items": {"type": "string"}, "description": "The field's problems."},
    {"type": "object", "additionalProperties": True, "description": "A nested object's fields and their problems."},
    {"type": "array", "items": {"type": "object", "additionalProperties": True},
     "description": "Each item's fields and their problems."}]})
class FieldErrorsField(serializers.JSONField):
    """What is wrong with one input field (DRF's validation errors, as they come)."""


class ErrorOut(serializers.Serializer):
    """Every error body (some add fields of their own, e.g. ``status`` or ``fields``)."""

    error = serializers.CharField(help_text="A stable, machine-readable code.")
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    fields = serializers.DictField(child=FieldErrorsField(), required=False,
                                   help_text="With `invalid_input`: what is wrong with each field.")
    retry_after = serializers.IntegerField(required=False, help_text="With `rate_limited`: seconds to wait.")


class ApiError(exceptions.APIException):
    def __init__(self, code: str, detail: str, status_code: int = 400, **extra: Any) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.error_code = code
        self.extra = extra


_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "forbidden"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.ParseError, "malformed_request"),
    (exceptions.Throttled, "rate_limited"),
    (exceptions.ValidationError, "invalid_input"),
]


def _flatten(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail, **extra}


def rate_limited_response(retry_after: int) -> Response:
    response = Response(error_body("rate_limited", f"Too many requests; retry in {retry_after} s.",
                                   retry_after=retry_after), status=status.HTTP_429_TOO_MANY_REQUESTS)
    response["Retry-After"] = str(retry_after)
    return response


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.detail, **exc.extra), status=exc.status_code)
    if isinstance(exc, ApiError):
        return Response(error_body(exc.error_code, str(exc.detail), **exc.extra), status=exc.status_code)
    if isinstance(exc, Ratelimited):
        return rate_limited_response(getattr(exc, "retry_after", 60))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((name for klass, name in _CODES if isinstance(exc, klass)), "error")
    body = error_body(code, _flatten(response.data.get("detail", response.data))
                      if isinstance(response.data, dict) else _flatten(response.data))
    if isinstance(exc, exceptions.ValidationError):
        body["fields"] = response.data
    response.data = body
    return response


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "No such resource."), status=404)
    return render(request, "404.html", status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("bad_request", "The request could not be understood."), status=400)
    return render(request, "400.html", status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, Ratelimited):
        response: HttpResponse = JsonResponse(
            error_body("rate_limited", "Too many requests; slow down."), status=429)
        response["Retry-After"] = "60"
        return response
    if _wants_json(request):
        return JsonResponse(error_body("forbidden", "You may not do that."), status=403)
    return render(request, "403.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
    return render(request, "500.html", status=500)
