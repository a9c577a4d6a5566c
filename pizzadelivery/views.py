"""Storefront pages (server-rendered, HTMX)."""
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from pizzadelivery.selectors import restaurant_list


@require_GET
def storefront(request: HttpRequest) -> HttpResponse:
    return render(request, "pizzadelivery/storefront.html", {"restaurants": restaurant_list()})
