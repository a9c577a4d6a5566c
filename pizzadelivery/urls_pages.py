"""The storefront's pages."""
from django.urls import path

from pizzadelivery import views

urlpatterns = [
    path("", views.storefront, name="storefront"),
]
