"""The API docs page, and helpers to document operations.

The docs page answers HTML whatever the client's Accept header says (DRF's documented
"ignore client content negotiation" pattern), so `Accept: application/json` does not get 406."""
from __future__ import annotations

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.negotiation import BaseContentNegotiation

from pizzadelivery.infra.errors import ErrorOut


class IgnoreClientContentNegotiation(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# Swagger UI (drf-spectacular-sidecar, pinned) injects one <style> of its own: that one is
# allowed by its hash, on this page only.
SWAGGER_UI_STYLE = "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='"


@method_decorator(csp_update({"style-src": [SWAGGER_UI_STYLE]}), name="dispatch")
class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its start script served as a file (``?script``), not inline: the pages'
    Content-Security-Policy allows no inline script."""

    content_negotiation_class = IgnoreClientContentNegotiation
    permission_classes: list = []


# --- helpers for documenting operations (drf-spectacular) ----------------------------------

def error_example(http_status: int, code: str, detail: str, /, **extra: object) -> OpenApiExample:
    return OpenApiExample(f"{http_status} {code}", value={"error": code, "detail": detail, **extra},
                          response_only=True, status_codes=[str(http_status)])


NOT_AUTHENTICATED = error_example(401, "not_authenticated", "Log in, or send an API token: Authorization: Token <key>.")
FORBIDDEN = error_example(403, "forbidden", "Your account may not do that.")


def errors(**by_status: str) -> dict[int, OpenApiResponse]:
    """Error responses, each with the codes it can carry: ``errors(e400="`invalid_x`: ...")``."""
    return {int(status.lstrip("e")): OpenApiResponse(ErrorOut, description=text) for status, text in by_status.items()}


AUTH_ERRORS = errors(
    e401="`not_authenticated`: no session and no `Authorization: Token <key>` (or "
         "`authentication_failed`: the token is not valid).",
    e403="`forbidden`: the account's role may not do this (or has no role).")


def roles(text: str) -> str:
    return f"\n\n**Who may:** {text}"
