"""The storefront's pages."""
from django.urls import path

from pizzadelivery.storefront import views

urlpatterns = [
    path("", views.storefront, name="storefront"),
    path("restaurants/<slug:slug>/", views.restaurant_menu, name="restaurant-menu"),
    path("restaurants/<slug:slug>/cart/add/", views.cart_add, name="cart-add"),
    path("restaurants/<slug:slug>/cart/update/", views.cart_update, name="cart-update"),
    path("restaurants/<slug:slug>/checkout/", views.checkout, name="checkout"),
    path("orders/<str:token>/confirmed/", views.order_confirmed, name="order-confirmed"),
]
