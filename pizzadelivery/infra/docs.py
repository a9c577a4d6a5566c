"""The API docs page answers HTML whatever the client's Accept header says (DRF's documented
"ignore client content negotiation" pattern), so `Accept: application/json` does not get 406."""
from __future__ import annotations

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.negotiation import BaseContentNegotiation


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
