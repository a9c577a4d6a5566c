from django.urls import path

from pizzadelivery.kitchen import views

app_name = "kitchen"

urlpatterns = [
    path("kitchen/", views.screen, name="screen"),
    path("kitchen/live/", views.live, name="live"),
    path("kitchen/orders/<uuid:order_id>/move/", views.move, name="move"),
    path("kitchen/orders/<uuid:order_id>/cancel/", views.cancel, name="cancel"),
    path("kitchen/restaurants/<int:restaurant_id>/open/", views.open_or_close, name="open"),
    path("kitchen/menu-items/<int:item_id>/", views.menu_item, name="menu-item"),
]
